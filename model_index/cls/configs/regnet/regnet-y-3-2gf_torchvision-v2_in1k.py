# RegNet regnet_y_3_2gf with torchvision weights RegNet_Y_3_2GF_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/regnet_y_3_2gf-9180c971.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_y_3_2gf.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
