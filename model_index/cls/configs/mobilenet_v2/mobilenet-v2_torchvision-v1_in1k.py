# MobileNetV2 mobilenet_v2 with torchvision weights MobileNet_V2_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mobilenet_v2-b0353104.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mobilenet_v2.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
