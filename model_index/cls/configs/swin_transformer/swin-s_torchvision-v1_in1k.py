# Swin Transformer swin_s with torchvision weights Swin_S_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/swin_s-5e29d889.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/swin_s.py',
    '../_base_/datasets/imagenet_bs32_r246_c224_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
