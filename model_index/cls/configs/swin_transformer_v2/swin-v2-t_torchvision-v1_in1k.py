# Swin Transformer V2 swin_v2_t with torchvision weights Swin_V2_T_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/swin_v2_t-b137f0e2.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/swin_v2_t.py',
    '../_base_/datasets/imagenet_bs32_r260_c256_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
