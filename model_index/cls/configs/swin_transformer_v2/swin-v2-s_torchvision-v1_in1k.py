# Swin Transformer V2 swin_v2_s with torchvision weights Swin_V2_S_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/swin_v2_s-637d8ceb.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/swin_v2_s.py',
    '../_base_/datasets/imagenet_bs32_r260_c256_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
