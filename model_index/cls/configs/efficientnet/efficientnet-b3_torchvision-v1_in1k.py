# EfficientNet efficientnet_b3 with torchvision weights EfficientNet_B3_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b3_rwightman-b3899882.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b3.py',
    '../_base_/datasets/imagenet_bs32_r320_c300_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
