# ConvNeXt convnext_large with torchvision weights ConvNeXt_Large_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/convnext_large-ea097f82.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/convnext_large.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
