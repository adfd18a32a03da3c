# EfficientNetV2 efficientnet_v2_l with torchvision weights EfficientNet_V2_L_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_v2_l-59c71312.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_v2_l.py',
    '../_base_/datasets/imagenet_bs32_r480_c480_bicubic_mean128.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
