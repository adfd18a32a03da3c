"""mmcls 0.x ``DenseNet`` on torchvision's DenseNet."""

from __future__ import annotations

from minim.cls.models.backbones._checks import norm_type, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

@BACKBONES.register()
class DenseNet(TorchvisionModelBackbone):
    """mmcls ``DenseNet(arch='121'|'161'|'169'|'201')`` = torchvision's ``densenet{arch}``."""

    def __init__(self, arch: str = "121", in_channels: int = 3, bn_size: int = 4, drop_rate: float = 0.0,
                 compression_factor: float = 0.5, memory_efficient: bool = False, norm_cfg=None, act_cfg=None,
                 out_indices=-1, frozen_stages: int = 0, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = "DenseNet"
        arch = str(arch)
        if arch not in ("121", "161", "169", "201"):
            raise BuildError(f"DenseNet: arch={arch!r} is not supported; torchvision has '121', '161', '169', '201'")
        require_value(name, "in_channels", in_channels, 3)
        require_value(name, "bn_size", bn_size, 4)
        require_value(name, "compression_factor", compression_factor, 0.5)
        require_value(name, "act_cfg", act_cfg, None, {"type": "ReLU"})
        require_value(name, "out_indices", out_indices, -1, (-1,), 3, (3,))
        require_value(name, "frozen_stages", frozen_stages, 0, -1)
        norm_type(name, norm_cfg, "BN", "SyncBN")
        tv_arch = f"densenet{arch}"
        model = build_torchvision_model(tv_arch, name, drop_rate=float(drop_rate),
                                        memory_efficient=bool(memory_efficient))
        self._setup(model, tv_arch, final_path="classifier")
