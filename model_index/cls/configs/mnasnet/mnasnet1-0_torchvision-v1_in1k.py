# MNASNet mnasnet1_0 with torchvision weights MNASNet1_0_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mnasnet1.0_top1_73.512-f206786ef8.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mnasnet1_0.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
