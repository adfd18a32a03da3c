# VGG vgg16 with torchvision weights VGG16_Weights.IMAGENET1K_FEATURES
# (https://download.pytorch.org/models/vgg16_features-amdegroot-88682ab5.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vgg16.py',
    '../_base_/datasets/imagenet_bs32_r256_c224_bilinear_mean123.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
