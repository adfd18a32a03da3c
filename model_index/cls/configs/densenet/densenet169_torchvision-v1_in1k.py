# DenseNet densenet169 with torchvision weights DenseNet169_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/densenet169-b2777c0a.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/densenet169.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
