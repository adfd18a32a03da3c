# VGG vgg13_bn with torchvision weights VGG13_BN_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg13_bn-abd245e5.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg13_bn.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
