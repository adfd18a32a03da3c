# EfficientNet efficientnet_b4 with torchvision weights EfficientNet_B4_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b4_rwightman-23ab8bcd.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b4.py',
    '../_base_/datasets/imagenet_bs32_r384_c380_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
