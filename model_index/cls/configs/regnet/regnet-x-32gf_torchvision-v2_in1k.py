# RegNet regnet_x_32gf with torchvision weights RegNet_X_32GF_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/regnet_x_32gf-6eb8fdc6.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_x_32gf.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
