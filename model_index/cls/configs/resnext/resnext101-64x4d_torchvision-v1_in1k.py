# ResNeXt resnext101_64x4d with torchvision weights ResNeXt101_64X4D_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnext101_64x4d.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
