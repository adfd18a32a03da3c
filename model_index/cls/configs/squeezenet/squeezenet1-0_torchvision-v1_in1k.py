# SqueezeNet squeezenet1_0 with torchvision weights SqueezeNet1_0_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/squeezenet1_0-b66bff10.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/squeezenet1_0.py',
    '../_base_/datasets/imagenet_bs32.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
