"""mmcls 0.x ``SwinTransformer`` on torchvision's Swin Transformer."""

from __future__ import annotations

from minim.cls.models.backbones._checks import require_single_out_index, require_value
from minim.cls.models.backbones.base import set_stochastic_depth
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_SWIN = {"tiny": "swin_t", "t": "swin_t", "small": "swin_s", "s": "swin_s", "base": "swin_b", "b": "swin_b"}


@BACKBONES.register()
class SwinTransformer(TorchvisionModelBackbone):
    """mmcls ``SwinTransformer(arch='tiny'|'small'|'base')`` = torchvision's ``swin_t|s|b`` (window 7)."""

    def __init__(self, arch: str = "tiny", img_size: int = 224, patch_size: int = 4, in_channels: int = 3,
                 window_size: int = 7, drop_rate: float = 0.0, drop_path_rate: float = 0.1, out_indices=(3,),
                 out_after_downsample: bool = False, use_abs_pos_embed: bool = False,
                 interpolate_mode: str = "bicubic", with_cp: bool = False, frozen_stages: int = -1,
                 norm_eval: bool = False, pad_small_map: bool = False, norm_cfg=None, stage_cfgs=None,
                 patch_cfg=None, init_cfg=None):
        super().__init__(norm_eval=norm_eval, init_cfg=init_cfg)
        name = "SwinTransformer"
        if arch not in _SWIN:
            raise BuildError(f"SwinTransformer: arch={arch!r} is not supported; torchvision has 'tiny', 'small', "
                             "'base'")
        require_value(name, "patch_size", patch_size, 4)
        require_value(name, "in_channels", in_channels, 3)
        require_value(name, "window_size", window_size, 7)
        require_single_out_index(name, out_indices, 3)
        require_value(name, "out_after_downsample", out_after_downsample, False)
        require_value(name, "use_abs_pos_embed", use_abs_pos_embed, False)
        require_value(name, "with_cp", with_cp, False)
        require_value(name, "frozen_stages", frozen_stages, -1)
        require_value(name, "norm_cfg", norm_cfg, None, {"type": "LN"})
        require_value(name, "stage_cfgs", stage_cfgs, None, {})
        require_value(name, "patch_cfg", patch_cfg, None, {})
        self.img_size = img_size
        tv_arch = _SWIN[arch]
        model = build_torchvision_model(tv_arch, name, dropout=float(drop_rate))
        set_stochastic_depth(model, float(drop_path_rate))
        self._setup(model, tv_arch, final_path="head")
