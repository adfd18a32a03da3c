# RegNet regnet_y_8gf with torchvision weights RegNet_Y_8GF_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/regnet_y_8gf-dc2b1b54.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_y_8gf.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
