"""Backbones in mmcls 0.x spellings, one module per family, imported when a config names them.

Each family module builds mmcls's architecture (on torchvision or timm modules where they are
numerically the same, else its own) and declares how mmcls checkpoints map onto its state dict
(``convert_mmcls_state``, see :mod:`.base`).
"""

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.torchvision_backbone import TorchvisionBackbone
from minim.cls.models.registry import BACKBONES

#: module (under this package) -> the mmcls type names it registers
FAMILIES = {
    "resnet": ["ResNet", "ResNet_CIFAR", "ResNeXt", "ResNetV1c", "ResNetV1d"],
    "seresnet": ["SEResNet", "SEResNeXt"],
    "res2net": ["Res2Net"],
    "resnest": ["ResNeSt"],
    "cspnet": ["CSPDarkNet", "CSPResNet", "CSPResNeXt"],
    "regnet": ["RegNet"],
    "mobilenet_v2": ["MobileNetV2"],
    "mobilenet_v3": ["MobileNetV3"],
    "efficientnet": ["EfficientNet"],
    "shufflenet_v1": ["ShuffleNetV1"],
    "shufflenet_v2": ["ShuffleNetV2"],
    "vgg": ["VGG"],
    "densenet": ["DenseNet"],
    "lenet": ["LeNet5"],
    "repvgg": ["RepVGG"],
    "hrnet": ["HRNet"],
    "convmixer": ["ConvMixer"],
    "repmlp": ["RepMLPNet"],
    "vit": ["VisionTransformer"],
    "deit": ["DistilledVisionTransformer"],
    "t2t_vit": ["T2T_ViT"],
    "tnt": ["TNT"],
    "conformer": ["Conformer"],
    "mlp_mixer": ["MlpMixer"],
    "swin": ["SwinTransformer"],
    "swin_v2": ["SwinTransformerV2"],
    "convnext": ["ConvNeXt"],
    "van": ["VAN"],
    "hornet": ["HorNet"],
    "poolformer": ["PoolFormer"],
    "efficientformer": ["EfficientFormer"],
    "mvit": ["MViT"],
    "twins": ["PCPVT", "SVT"],
    "timm_backbone": ["TIMMBackbone"],
}
for _module, _names in FAMILIES.items():
    BACKBONES.register_lazy(_names, f"{__name__}.{_module}")

__all__ = ["Backbone", "TorchvisionBackbone", "FAMILIES"]
