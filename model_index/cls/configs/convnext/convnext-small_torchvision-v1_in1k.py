# ConvNeXt convnext_small with torchvision weights ConvNeXt_Small_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/convnext_small-0c510722.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/convnext_small.py',
    '../_base_/datasets/imagenet_bs32_r230_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
