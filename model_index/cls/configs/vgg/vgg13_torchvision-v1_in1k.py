# VGG vgg13 with torchvision weights VGG13_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg13-19584684.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg13.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
