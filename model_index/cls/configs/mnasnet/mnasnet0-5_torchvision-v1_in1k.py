# MNASNet mnasnet0_5 with torchvision weights MNASNet0_5_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mnasnet0.5_top1_67.823-3ffadce67e.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mnasnet0_5.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
