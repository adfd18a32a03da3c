# Vision Transformer vit_b_32 with torchvision weights ViT_B_32_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/vit_b_32-d86f8d99.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/vit_b_32.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
