# RegNet regnet_y_16gf with torchvision weights RegNet_Y_16GF_Weights.IMAGENET1K_SWAG_E2E_V1
# (https://download.pytorch.org/models/regnet_y_16gf_swag-43afe44d.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_y_16gf.py',
    '../_base_/datasets/imagenet_bs32_r384_c384_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
