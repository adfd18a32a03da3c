"""mmcls 0.x ``ShuffleNetV2`` on torchvision's ShuffleNetV2."""

from __future__ import annotations

from torch import nn

from minim.cls.models.backbones._checks import norm_type, require_single_out_index, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_SHUFFLENET_WIDTHS = {0.5: "shufflenet_v2_x0_5", 1.0: "shufflenet_v2_x1_0", 1.5: "shufflenet_v2_x1_5",
                      2.0: "shufflenet_v2_x2_0"}


@BACKBONES.register()
class ShuffleNetV2(TorchvisionModelBackbone):
    """mmcls ``ShuffleNetV2(widen_factor=0.5|1.0|1.5|2.0)`` = torchvision's ``shufflenet_v2_x*``."""

    def __init__(self, widen_factor: float = 1.0, out_indices=(3,), frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg=None, act_cfg=None, norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "ShuffleNetV2"
        if widen_factor not in _SHUFFLENET_WIDTHS:
            raise BuildError(f"ShuffleNetV2: widen_factor={widen_factor!r} is not supported; use 0.5, 1.0, 1.5 or 2.0")
        require_single_out_index(name, out_indices, 3)
        require_value(name, "conv_cfg", conv_cfg, None)
        require_value(name, "act_cfg", act_cfg, None, {"type": "ReLU"})
        require_value(name, "with_cp", with_cp, False)
        norm_type(name, norm_cfg, "BN", "SyncBN")
        arch = _SHUFFLENET_WIDTHS[widen_factor]
        self._setup(build_torchvision_model(arch, name), arch, final_path="fc")
        self._check_frozen_stages(name)

    def stage_modules(self) -> list[list[nn.Module]]:
        return [[self.conv1], [self.stage2], [self.stage3], [self.stage4]]
