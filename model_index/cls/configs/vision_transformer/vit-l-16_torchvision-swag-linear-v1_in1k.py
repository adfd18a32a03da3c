# Vision Transformer vit_l_16 with torchvision weights ViT_L_16_Weights.IMAGENET1K_SWAG_LINEAR_V1
# (https://download.pytorch.org/models/vit_l_16_lc_swag-4d563306.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vit_l_16.py',
    '../_base_/datasets/imagenet_bs32_r224_c224_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
