"""mmcls 0.x ``VisionTransformer`` on torchvision's ViT."""

from __future__ import annotations

from minim.cls.models.backbones._checks import require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_VIT = {  # num_layers, num_heads, hidden_dim, mlp_dim
    "b": (12, 12, 768, 3072), "base": (12, 12, 768, 3072),
    "l": (24, 16, 1024, 4096), "large": (24, 16, 1024, 4096),
    "h": (32, 16, 1280, 5120), "huge": (32, 16, 1280, 5120),
    "deit-t": (12, 3, 192, 768), "deit-tiny": (12, 3, 192, 768),
    "deit-s": (12, 6, 384, 1536), "deit-small": (12, 6, 384, 1536),
    "deit-b": (12, 12, 768, 3072), "deit-base": (12, 12, 768, 3072),
}
_VIT_LETTER = {"b": "b", "base": "b", "l": "l", "large": "l", "h": "h", "huge": "h"}


@BACKBONES.register()
class VisionTransformer(TorchvisionModelBackbone):
    """mmcls ``VisionTransformer(arch, img_size, patch_size)`` = torchvision's ``VisionTransformer``.

    ``arch='b', patch_size=16`` is torchvision's ``vit_b_16``; the backbone outputs the
    final-normed class token (pair with ``VisionTransformerClsHead`` or ``LinearClsHead``).
    """

    def __init__(self, arch: str = "base", img_size: int = 224, patch_size: int = 16, in_channels: int = 3,
                 out_indices=-1, drop_rate: float = 0.0, drop_path_rate: float = 0.0, qkv_bias: bool = True,
                 norm_cfg=None, final_norm: bool = True, with_cls_token: bool = True, output_cls_token: bool = True,
                 frozen_stages: int = -1, interpolate_mode: str = "bicubic", patch_cfg=None, layer_cfgs=None,
                 pre_norm: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        name = "VisionTransformer"
        if not isinstance(arch, str) or arch.lower() not in _VIT:
            raise BuildError(f"VisionTransformer: arch={arch!r} is not supported; use one of "
                             f"{', '.join(repr(a) for a in _VIT)}")
        require_value(name, "in_channels", in_channels, 3)
        require_value(name, "out_indices", out_indices, -1, (-1,))
        require_value(name, "drop_path_rate", drop_path_rate, 0.0, 0)
        require_value(name, "qkv_bias", qkv_bias, True)
        require_value(name, "norm_cfg", norm_cfg, None, {"type": "LN", "eps": 1e-6})
        require_value(name, "final_norm", final_norm, True)
        require_value(name, "with_cls_token", with_cls_token, True)
        require_value(name, "output_cls_token", output_cls_token, True)
        require_value(name, "frozen_stages", frozen_stages, -1)
        require_value(name, "patch_cfg", patch_cfg, None, {})
        require_value(name, "layer_cfgs", layer_cfgs, None, {})
        require_value(name, "pre_norm", pre_norm, False)
        if img_size % patch_size:
            raise BuildError(f"VisionTransformer: img_size={img_size} is not a multiple of patch_size={patch_size}")
        from torchvision.models.vision_transformer import VisionTransformer as TorchvisionViT

        layers, heads, hidden, mlp = _VIT[arch.lower()]
        model = TorchvisionViT(image_size=img_size, patch_size=patch_size, num_layers=layers, num_heads=heads,
                               hidden_dim=hidden, mlp_dim=mlp, dropout=float(drop_rate))
        self.img_size = img_size
        letter = _VIT_LETTER.get(arch.lower(), arch.lower())
        self._setup(model, f"vit_{letter}_{patch_size}", final_path="heads.head")
