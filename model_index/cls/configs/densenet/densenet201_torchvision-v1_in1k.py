# DenseNet densenet201 with torchvision weights DenseNet201_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/densenet201-c1103571.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/densenet201.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
