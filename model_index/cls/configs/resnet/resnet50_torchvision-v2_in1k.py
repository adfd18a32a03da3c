# ResNet resnet50 with torchvision weights ResNet50_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/resnet50-11ad3fa6.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnet50.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
