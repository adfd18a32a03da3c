# RegNet regnet_y_32gf with torchvision weights RegNet_Y_32GF_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/regnet_y_32gf-4dee3f7a.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_y_32gf.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
