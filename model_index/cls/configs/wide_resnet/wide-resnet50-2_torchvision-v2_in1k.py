# Wide ResNet wide_resnet50_2 with torchvision weights Wide_ResNet50_2_Weights.IMAGENET1K_V2
# (https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/wide_resnet50_2.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
