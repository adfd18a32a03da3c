# GoogLeNet googlenet with torchvision weights GoogLeNet_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/googlenet-1378be20.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/googlenet.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
