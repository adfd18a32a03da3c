# Swin Transformer swin_t with torchvision weights Swin_T_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/swin_t-704ceda3.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/swin_t.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
