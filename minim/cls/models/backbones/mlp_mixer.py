"""mmcls 0.x ``MlpMixer``: patch tokens mixed by token-MLPs and channel-MLPs."""

from __future__ import annotations

from typing import Any, Mapping

import torch
from torch import nn

from minim.cls.models.backbones.base import Backbone
from minim.cls.models.backbones.vit import FFN, PatchEmbed, layer_norm, pair, per_layer_cfgs
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

_MIXER_KEYS = ("embed_dims", "num_layers", "tokens_mlp_dims", "channels_mlp_dims")
_MIXER_ARCHS = {
    **dict.fromkeys(("s", "small"), (512, 8, 256, 2048)),
    **dict.fromkeys(("b", "base"), (768, 12, 384, 3072)),
    **dict.fromkeys(("l", "large"), (1024, 24, 512, 4096)),
}


class MixerBlock(nn.Module):
    """``ln1`` + ``token_mix`` (an MLP across tokens), ``ln2`` + ``channel_mix`` (an MLP across channels)."""

    def __init__(self, num_tokens: int, embed_dims: int, tokens_mlp_dims: int, channels_mlp_dims: int,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, num_fcs: int = 2,
                 act_cfg: Mapping[str, Any] | None = None, norm_cfg: Mapping[str, Any] | None = None,
                 init_cfg: Any = None):
        super().__init__()
        self.ln1 = layer_norm("MlpMixer", norm_cfg, embed_dims)
        self.token_mix = FFN(num_tokens, tokens_mlp_dims, num_fcs, act_cfg, drop_rate, drop_path_rate,
                             add_identity=False)
        self.ln2 = layer_norm("MlpMixer", norm_cfg, embed_dims)
        self.channel_mix = FFN(embed_dims, channels_mlp_dims, num_fcs, act_cfg, drop_rate, drop_path_rate)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                nn.init.normal_(module.bias, std=1e-6)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.token_mix(self.ln1(x).transpose(1, 2)).transpose(1, 2)
        return self.channel_mix(self.ln2(x), identity=x)


def _mixer_arch(arch: Any) -> dict[str, int]:
    if isinstance(arch, str):
        if arch.lower() not in _MIXER_ARCHS:
            raise BuildError(f"MlpMixer: arch={arch!r} is not supported; use 's', 'b', 'l' (or 'small', 'base', "
                             f"'large') or a dict with keys {list(_MIXER_KEYS)}")
        return dict(zip(_MIXER_KEYS, _MIXER_ARCHS[arch.lower()]))
    if not isinstance(arch, Mapping) or set(arch) != set(_MIXER_KEYS):
        raise BuildError(f"MlpMixer: a custom arch must be a dict with exactly the keys {list(_MIXER_KEYS)}, "
                         f"got {arch!r}")
    return {key: int(arch[key]) for key in _MIXER_KEYS}


def _mixer_out_indices(out_indices: Any, num_layers: int) -> list[int]:
    """mmcls accepts only negative indices (its check of non-negative ones rejects every real layer)."""
    indices = [out_indices] if isinstance(out_indices, int) else list(out_indices)
    if not indices or any(isinstance(i, bool) or not isinstance(i, int) or not -num_layers <= i < 0
                          for i in indices):
        raise BuildError(f"MlpMixer: out_indices={out_indices!r} is not supported; give negative layer indices "
                         f"(-1 .. -{num_layers}), as mmcls 0.25 requires")
    return [num_layers + i for i in indices]


@BACKBONES.register()
class MlpMixer(Backbone):
    """mmcls ``MlpMixer``: ``patch_embed``, mixer ``layers`` and the final ``ln1``.

    Each of ``out_indices`` gives the tokens as ``(N, C, num_patches)``: pair it with
    ``GlobalAveragePooling(dim=1)`` and ``LinearClsHead``.  Inputs must be ``img_size`` pixels.
    ``drop_path_rate`` is the same for every layer, as in mmcls.
    """

    def __init__(self, arch: Any = "base", img_size: Any = 224, patch_size: Any = 16, out_indices: Any = -1,
                 drop_rate: float = 0.0, drop_path_rate: float = 0.0, norm_cfg: Mapping[str, Any] | None = None,
                 act_cfg: Mapping[str, Any] | None = None, patch_cfg: Mapping[str, Any] | None = None,
                 layer_cfgs: Any = None, init_cfg: Any = None):
        super().__init__(init_cfg=init_cfg)
        settings = _mixer_arch(arch)
        self.embed_dims = self.feature_dim = settings["embed_dims"]
        self.num_layers = settings["num_layers"]
        self.img_size = pair(img_size)
        embed_cfg = dict(input_size=img_size, embed_dims=self.embed_dims, conv_type="Conv2d",
                         kernel_size=patch_size, stride=patch_size)
        embed_cfg.update(patch_cfg or {})
        self.patch_embed = PatchEmbed(**embed_cfg)
        self.patch_resolution = self.patch_embed.init_out_size
        num_patches = self.patch_resolution[0] * self.patch_resolution[1]
        self.out_indices = _mixer_out_indices(out_indices, self.num_layers)
        norm_cfg = norm_cfg if norm_cfg is not None else {"type": "LN"}
        cfgs = per_layer_cfgs("MlpMixer", layer_cfgs, self.num_layers)
        self.layers = nn.ModuleList(
            MixerBlock(**{**dict(num_tokens=num_patches, embed_dims=self.embed_dims,
                                 tokens_mlp_dims=settings["tokens_mlp_dims"],
                                 channels_mlp_dims=settings["channels_mlp_dims"], drop_rate=drop_rate,
                                 drop_path_rate=drop_path_rate, act_cfg=act_cfg, norm_cfg=norm_cfg), **cfg})
            for cfg in cfgs)
        self.ln1 = layer_norm("MlpMixer", norm_cfg, self.embed_dims)

    def forward(self, x: torch.Tensor):
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"MlpMixer: the input is {tuple(x.shape[2:])} pixels but the model's img_size is "
                             f"{self.img_size} (no dynamic input size, as in mmcls)")
        x, _ = self.patch_embed(x)
        outs = []
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index == self.num_layers - 1:
                x = self.ln1(x)
            if index in self.out_indices:
                outs.append(x.transpose(1, 2))
        return tuple(outs)
