# MNASNet mnasnet1_3 with torchvision weights MNASNet1_3_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/mnasnet1_3-a4c69d6f.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/mnasnet1_3.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
