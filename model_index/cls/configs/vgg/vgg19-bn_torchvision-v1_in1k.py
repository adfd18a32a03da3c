# VGG vgg19_bn with torchvision weights VGG19_BN_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg19_bn-c79401a0.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg19_bn.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
