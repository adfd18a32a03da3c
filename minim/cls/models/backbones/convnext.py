"""mmcls 0.x ``ConvNeXt`` on torchvision's ConvNeXt."""

from __future__ import annotations

from torch import nn

from minim.cls.models.backbones._checks import require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_CONVNEXT = {"tiny": "convnext_tiny", "t": "convnext_tiny", "small": "convnext_small", "s": "convnext_small",
             "base": "convnext_base", "b": "convnext_base", "large": "convnext_large", "l": "convnext_large"}


@BACKBONES.register()
class ConvNeXt(TorchvisionModelBackbone):
    """mmcls ``ConvNeXt(arch='tiny'|'small'|'base'|'large')`` = torchvision's ``convnext_*``."""

    def __init__(self, arch: str = "tiny", in_channels: int = 3, stem_patch_size: int = 4, norm_cfg=None,
                 act_cfg=None, linear_pw_conv: bool = True, drop_path_rate: float = 0.0,
                 layer_scale_init_value: float = 1e-6, out_indices=-1, frozen_stages: int = 0,
                 gap_before_final_norm: bool = True, with_cp: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = "ConvNeXt"
        if arch not in _CONVNEXT:
            raise BuildError(f"ConvNeXt: arch={arch!r} is not supported; torchvision has 'tiny', 'small', 'base', "
                             "'large'")
        require_value(name, "in_channels", in_channels, 3)
        require_value(name, "stem_patch_size", stem_patch_size, 4)
        require_value(name, "norm_cfg", norm_cfg, None, {"type": "LN2d", "eps": 1e-6})
        require_value(name, "act_cfg", act_cfg, None, {"type": "GELU"})
        require_value(name, "linear_pw_conv", linear_pw_conv, True)  # torchvision's blocks use nn.Linear
        require_value(name, "layer_scale_init_value", layer_scale_init_value, 1e-6)
        require_value(name, "out_indices", out_indices, -1, (-1,), 3, (3,))
        require_value(name, "frozen_stages", frozen_stages, 0, -1)
        require_value(name, "gap_before_final_norm", gap_before_final_norm, True)
        require_value(name, "with_cp", with_cp, False)
        tv_arch = _CONVNEXT[arch]
        model = build_torchvision_model(tv_arch, name, stochastic_depth_prob=float(drop_path_rate))
        self._setup(model, tv_arch, final_path="classifier.2")
