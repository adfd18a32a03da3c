# VGG vgg16 with torchvision weights VGG16_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vgg16-397923af.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg16.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
