# MobileNetV3 mobilenet_v3_large with torchvision weights MobileNet_V3_Large_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mobilenet_v3_large-8738ca79.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mobilenet_v3_large.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
