# EfficientNet efficientnet_b7 with torchvision weights EfficientNet_B7_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b7_lukemelas-c5b4e57e.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b7.py',
    '../_base_/datasets/imagenet_bs32_r600_c600_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
