# MaxViT maxvit_t with torchvision weights MaxVit_T_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/maxvit_t-bc5ab103.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/maxvit_t.py',
    '../_base_/datasets/imagenet_bs32_r224_c224_bicubic.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
