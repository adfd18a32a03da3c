# EfficientNetV2 efficientnet_v2_s with torchvision weights EfficientNet_V2_S_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_v2_s-dd5fe13b.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_v2_s.py',
    '../_base_/datasets/imagenet_bs32_r384_c384_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
