# EfficientNet efficientnet_b1 with torchvision weights EfficientNet_B1_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b1_rwightman-bac287d4.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b1.py',
    '../_base_/datasets/imagenet_bs32_r256_c240_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
