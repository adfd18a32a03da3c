# Inception V3 inception_v3 with torchvision weights Inception_V3_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/inception_v3_google-0cc3c7bd.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/inception_v3.py',
    '../_base_/datasets/imagenet_bs32_r342_c299_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
