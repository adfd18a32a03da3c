# ResNet resnet18 with torchvision weights ResNet18_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/resnet18-f37072fd.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/resnet18.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
