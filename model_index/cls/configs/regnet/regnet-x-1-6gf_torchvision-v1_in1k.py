# RegNet regnet_x_1_6gf with torchvision weights RegNet_X_1_6GF_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/regnet_x_1_6gf-e3633e7f.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/regnet_x_1_6gf.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
