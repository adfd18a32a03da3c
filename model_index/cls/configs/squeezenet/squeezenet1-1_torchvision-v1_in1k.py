# SqueezeNet squeezenet1_1 with torchvision weights SqueezeNet1_1_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/squeezenet1_1.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
