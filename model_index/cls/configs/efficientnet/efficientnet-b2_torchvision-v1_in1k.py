# EfficientNet efficientnet_b2 with torchvision weights EfficientNet_B2_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b2_rwightman-c35c1473.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b2.py',
    '../_base_/datasets/imagenet_bs32_r288_c288_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
