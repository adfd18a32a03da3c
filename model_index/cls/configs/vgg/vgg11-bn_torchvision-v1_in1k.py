# VGG vgg11_bn with torchvision weights VGG11_BN_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg11_bn-6002323d.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg11_bn.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
