# ShuffleNetV2 shufflenet_v2_x2_0 with torchvision weights ShuffleNet_V2_X2_0_Weights.IMAGENET1K_V1
# (https://download.pytorch.org/models/shufflenetv2_x2_0-8be3c8ee.pth).
# Evaluation preprocessing as torchvision measured its published accuracy.
_base_ = [
    '../_base_/models/shufflenet_v2_x2_0.py',
    '../_base_/datasets/imagenet_bs32_r232_c224_bilinear.py',
    '../_base_/schedules/imagenet_bs256.py',
    '../_base_/default_runtime.py',
]
