# EfficientNet efficientnet_b5 with torchvision weights EfficientNet_B5_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b5_lukemelas-1a07897c.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b5.py',
    '../_base_/datasets/imagenet_bs32_r456_c456_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
