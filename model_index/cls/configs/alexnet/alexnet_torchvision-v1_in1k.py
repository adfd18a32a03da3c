# AlexNet alexnet with torchvision weights AlexNet_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/alexnet-owt-7be5be79.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/alexnet.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
