# MNASNet mnasnet0_75 with torchvision weights MNASNet0_75_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mnasnet0_75-7090bc5f.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mnasnet0_75.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
