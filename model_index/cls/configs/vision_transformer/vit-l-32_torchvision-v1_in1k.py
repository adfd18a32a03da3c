# Vision Transformer vit_l_32 with torchvision weights ViT_L_32_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vit_l_32-c7638314.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vit_l_32.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
