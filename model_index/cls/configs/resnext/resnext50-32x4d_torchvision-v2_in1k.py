# ResNeXt resnext50_32x4d with torchvision weights ResNeXt50_32X4D_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnext50_32x4d.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
