# Swin Transformer swin_b with torchvision weights Swin_B_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/swin_b-68c6b09e.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/swin_b.py',
    '../_base_/datasets/imagenet_bs32_r238_c224_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
