# ResNeXt resnext101_32x8d with torchvision weights ResNeXt101_32X8D_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnext101_32x8d.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
