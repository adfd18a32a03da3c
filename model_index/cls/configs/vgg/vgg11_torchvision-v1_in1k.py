# VGG vgg11 with torchvision weights VGG11_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg11-8a719046.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg11.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
