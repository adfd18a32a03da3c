# RegNet regnet_y_16gf with torchvision weights RegNet_Y_16GF_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/regnet_y_16gf-3e4a00f9.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_y_16gf.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
