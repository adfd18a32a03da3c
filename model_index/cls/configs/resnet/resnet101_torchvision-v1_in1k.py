# ResNet resnet101 with torchvision weights ResNet101_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/resnet101-63fe2227.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnet101.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
