# Wide ResNet wide_resnet101_2 with torchvision weights Wide_ResNet101_2_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/wide_resnet101_2.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
