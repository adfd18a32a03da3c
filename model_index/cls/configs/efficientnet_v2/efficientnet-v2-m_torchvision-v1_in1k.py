# EfficientNetV2 efficientnet_v2_m with torchvision weights EfficientNet_V2_M_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_v2_m-dc08266a.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_v2_m.py',
    '../_base_/datasets/imagenet_bs32_r480_c480_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
