# RegNet regnet_y_400mf with torchvision weights RegNet_Y_400MF_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/regnet_y_400mf-e6988f5f.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_y_400mf.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
