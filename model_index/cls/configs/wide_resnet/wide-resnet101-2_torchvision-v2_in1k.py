# Wide ResNet wide_resnet101_2 with torchvision weights Wide_ResNet101_2_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/wide_resnet101_2.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
