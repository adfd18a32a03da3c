"""mmcls 0.x ``MobileNetV3`` on torchvision's MobileNetV3."""

from __future__ import annotations

from torch import nn

from minim.cls.models.backbones._checks import require_single_out_index, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

@BACKBONES.register()
class MobileNetV3(TorchvisionModelBackbone):
    """mmcls ``MobileNetV3(arch='small'|'large')`` = torchvision's ``mobilenet_v3_{arch}`` trunk.

    The backbone ends with the pooled 576/960-channel features; torchvision's two-layer
    classifier maps onto a ``StackedLinearClsHead(mid_channels=[1024|1280])`` (mmcls's head).
    """

    def __init__(self, arch: str = "small", conv_cfg=None, norm_cfg=None, out_indices=None, frozen_stages: int = -1,
                 norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "MobileNetV3"
        if arch not in ("small", "large"):
            raise BuildError(f"MobileNetV3: arch={arch!r} is not supported; torchvision has 'small' and 'large'")
        last = 12 if arch == "small" else 16
        if out_indices is not None:
            require_single_out_index(name, out_indices, last)
        require_value(name, "conv_cfg", conv_cfg, None)
        require_value(name, "norm_cfg", norm_cfg, None, {"type": "BN", "eps": 0.001, "momentum": 0.01})
        require_value(name, "with_cp", with_cp, False)
        require_value(name, "frozen_stages", frozen_stages, -1)
        arch_name = f"mobilenet_v3_{arch}"
        model = build_torchvision_model(arch_name, name)
        self.arch = arch_name
        self.final_layer = "classifier"
        self.feature_dim = model.classifier[0].in_features
        self.head_layers = ("classifier.0", "classifier.3")
        self._dropped_prefixes = ()
        model.classifier = nn.Identity()
        self._adopt(model)
