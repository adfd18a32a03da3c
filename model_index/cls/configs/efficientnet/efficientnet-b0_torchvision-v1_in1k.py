# EfficientNet efficientnet_b0 with torchvision weights EfficientNet_B0_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b0_rwightman-7f5810bc.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b0.py',
    '../_base_/datasets/imagenet_bs32_r256_c224_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
