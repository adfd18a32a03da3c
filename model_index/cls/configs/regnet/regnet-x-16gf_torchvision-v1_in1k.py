# RegNet regnet_x_16gf with torchvision weights RegNet_X_16GF_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/regnet_x_16gf-2007eb11.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_x_16gf.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
