# ResNet resnet34 with torchvision weights ResNet34_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/resnet34-b627a593.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnet34.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
