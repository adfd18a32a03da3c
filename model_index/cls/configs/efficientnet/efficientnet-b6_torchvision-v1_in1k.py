# EfficientNet efficientnet_b6 with torchvision weights EfficientNet_B6_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/efficientnet_b6_lukemelas-24a108a5.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/efficientnet_b6.py',
    '../_base_/datasets/imagenet_bs32_r528_c528_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
