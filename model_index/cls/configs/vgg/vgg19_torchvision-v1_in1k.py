# VGG vgg19 with torchvision weights VGG19_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg19-dcbb9e9d.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg19.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
