# Vision Transformer vit_h_14 with torchvision weights ViT_H_14_Weights.IMAGENET1K_SWAG_E2E_V1
# (https://download.pytorch.org/models/vit_h_14_swag-80465313.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vit_h_14.py',
    '../_base_/datasets/imagenet_bs32_r518_c518_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
