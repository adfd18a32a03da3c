# ResNet resnet152 with torchvision weights ResNet152_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/resnet152-f82ba261.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnet152.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
