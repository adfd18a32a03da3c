# ResNet resnet101 with torchvision weights ResNet101_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/resnet101-cd907fc2.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnet101.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
