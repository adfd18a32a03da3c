# MobileNetV3 mobilenet_v3_small with torchvision weights MobileNet_V3_Small_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mobilenet_v3_small-047dcff4.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mobilenet_v3_small.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
