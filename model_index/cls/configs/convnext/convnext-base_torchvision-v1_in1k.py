# ConvNeXt convnext_base with torchvision weights ConvNeXt_Base_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/convnext_base-6075fbad.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/convnext_base.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
