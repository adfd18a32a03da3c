# ConvNeXt convnext_tiny with torchvision weights ConvNeXt_Tiny_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/convnext_tiny-983f1562.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/convnext_tiny.py',
    '../_base_/datasets/imagenet_bs32_r236_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
