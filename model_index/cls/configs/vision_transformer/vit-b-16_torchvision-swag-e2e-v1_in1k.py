# Vision Transformer vit_b_16 with torchvision weights ViT_B_16_Weights.IMAGENET1K_SWAG_E2E_V1
# (https://download.pytorch.org/models/vit_b_16_swag-9ac1b537.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vit_b_16.py',
    '../_base_/datasets/imagenet_bs32_r384_c384_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
model = dict(backbone=dict(img_size=384))
