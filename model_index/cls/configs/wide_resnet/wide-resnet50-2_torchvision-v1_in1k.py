# Wide ResNet wide_resnet50_2 with torchvision weights Wide_ResNet50_2_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/wide_resnet50_2.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
