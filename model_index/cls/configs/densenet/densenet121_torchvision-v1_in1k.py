# DenseNet densenet121 with torchvision weights DenseNet121_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/densenet121-a639ec97.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/densenet121.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
