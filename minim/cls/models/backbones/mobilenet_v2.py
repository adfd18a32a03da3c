"""mmcls 0.x ``MobileNetV2`` on torchvision's MobileNetV2, with mmcls's key layout converted."""

from __future__ import annotations

from torch import nn

from minim.cls.models.backbones._checks import freeze_norm_params, norm_type, require_single_out_index, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES

# First torchvision ``features`` index of mmcls's layer1..layer7 (block counts 1,2,3,4,3,3,1).
_MOBILENET_V2_STAGE_STARTS = (1, 2, 4, 7, 11, 14, 17, 18)


def mmcls_mobilenet_v2_key_to_torchvision(key: str) -> str:
    """Map an mmcls MobileNetV2 backbone key (``conv1.conv.weight``, ``layer2.1.conv.0.bn.weight``)
    onto torchvision's ``features.*`` layout; keys already in that layout are returned unchanged."""
    parts = key.split(".")
    if parts[0] in ("conv1", "conv2") and len(parts) >= 3 and parts[1] in ("conv", "bn"):
        index = 0 if parts[0] == "conv1" else 18
        sub = "0" if parts[1] == "conv" else "1"
        return ".".join(["features", str(index), sub] + parts[2:])
    if parts[0].startswith("layer") and parts[0][5:].isdigit() and len(parts) >= 5 and parts[2] == "conv":
        stage = int(parts[0][5:])
        if not 1 <= stage <= 7:
            return key
        block = _MOBILENET_V2_STAGE_STARTS[stage - 1] + int(parts[1])
        conv_index, kind, rest = int(parts[3]), parts[4], parts[5:]
        expand_one = stage == 1
        last = 1 if expand_one else 2
        if conv_index < last:
            inner = [str(conv_index), "0" if kind == "conv" else "1"]
        else:
            inner = [str(last if kind == "conv" else last + 1)]
        return ".".join(["features", str(block), "conv"] + inner + rest)
    return key


@BACKBONES.register()
class MobileNetV2(TorchvisionModelBackbone):
    """mmcls ``MobileNetV2(widen_factor)`` = torchvision's ``mobilenet_v2(width_mult=widen_factor)``.

    Accepts mmcls checkpoints (``backbone.conv1.conv``, ``backbone.layer{s}.{j}.conv.*``,
    ``backbone.conv2``), mapped losslessly onto torchvision's ``features.*`` keys.
    """

    def __init__(self, widen_factor: float = 1.0, out_indices=(7,), frozen_stages: int = -1, conv_cfg=None,
                 norm_cfg=None, act_cfg=None, norm_eval: bool = False, with_cp: bool = False, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "MobileNetV2"
        require_single_out_index(name, out_indices, 7)
        require_value(name, "conv_cfg", conv_cfg, None)
        require_value(name, "act_cfg", act_cfg, None, {"type": "ReLU6"})
        require_value(name, "with_cp", with_cp, False)
        norm = norm_type(name, norm_cfg, "BN", "SyncBN")
        model = build_torchvision_model("mobilenet_v2", name, width_mult=float(widen_factor))
        model.classifier[0] = nn.Identity()  # torchvision's Dropout(0.2) before its classifier; mmcls's has none
        if norm.get("requires_grad", True) is False:
            freeze_norm_params(model)
        self.widen_factor = widen_factor
        self._setup(model, "mobilenet_v2", final_path="classifier.1")
        self._check_frozen_stages(name)

    def classifier_key_to_own(self, key: str) -> str:
        return mmcls_mobilenet_v2_key_to_torchvision(key)

    def plain_key_to_own(self, key: str) -> str | None:
        return mmcls_mobilenet_v2_key_to_torchvision(key)

    def stage_modules(self) -> list[list[nn.Module]]:
        starts = (0,) + _MOBILENET_V2_STAGE_STARTS
        return [[self.features[i] for i in range(a, b)] for a, b in zip(starts[:-1], starts[1:])]
