# MobileNetV3 mobilenet_v3_large with torchvision weights MobileNet_V3_Large_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/mobilenet_v3_large-5c1a4163.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mobilenet_v3_large.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
