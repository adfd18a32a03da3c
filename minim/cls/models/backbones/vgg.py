"""mmcls 0.x ``VGG`` on torchvision's VGG."""

from __future__ import annotations

from torch import nn

from minim.cls.models.backbones._checks import norm_type, require_single_out_index, require_value
from minim.cls.models.backbones.torchvision_backbone import TorchvisionModelBackbone, build_torchvision_model
from minim.cls.models.registry import BACKBONES
from minim.errors import BuildError

@BACKBONES.register()
class VGG(TorchvisionModelBackbone):
    """mmcls ``VGG(depth=11|13|16|19, norm_cfg=None|BN, num_classes)`` = torchvision's ``vgg{depth}[_bn]``.

    With ``num_classes > 0`` the backbone keeps torchvision's classifier and outputs logits
    (pair with ``ClsHead``, as mmcls does); otherwise it outputs the last feature map.
    """

    def __init__(self, depth: int, num_classes: int = -1, num_stages: int = 5, dilations=(1, 1, 1, 1, 1),
                 out_indices=None, frozen_stages: int = -1, conv_cfg=None, norm_cfg=None, act_cfg=None,
                 norm_eval: bool = False, ceil_mode: bool = False, with_last_pool: bool = True, init_cfg=None):
        super().__init__(norm_eval=norm_eval, frozen_stages=frozen_stages, init_cfg=init_cfg)
        name = "VGG"
        if depth not in (11, 13, 16, 19):
            raise BuildError(f"VGG: invalid depth {depth!r}; use 11, 13, 16 or 19")
        require_value(name, "num_stages", num_stages, 5)
        require_value(name, "dilations", dilations, (1, 1, 1, 1, 1))
        require_value(name, "conv_cfg", conv_cfg, None)
        require_value(name, "act_cfg", act_cfg, None, {"type": "ReLU"})
        require_value(name, "ceil_mode", ceil_mode, False)
        require_value(name, "with_last_pool", with_last_pool, True)
        require_value(name, "frozen_stages", frozen_stages, -1)
        include_top = num_classes is not None and num_classes > 0
        if out_indices is not None:
            require_single_out_index(name, out_indices, 6 if include_top else 4)
        norm = norm_type(name, norm_cfg, "BN", "SyncBN")
        arch = f"vgg{depth}_bn" if norm else f"vgg{depth}"
        kwargs = {"num_classes": num_classes} if include_top else {}
        model = build_torchvision_model(arch, name, **kwargs)
        self.include_top = include_top
        if include_top:
            self._setup(model, arch, include_top=True, final_path="classifier.6")
        else:
            model.classifier = nn.Identity()
            self._setup_features_only(model, arch)

    def _setup_features_only(self, model: nn.Module, arch: str) -> None:
        self.arch = arch
        self.final_layer = "classifier"
        self.feature_dim = 512
        self.head_layers = ()
        self._dropped_prefixes = ()
        self._adopt(model)

    def forward(self, x):
        if self.include_top:
            return super().forward(x)
        return self.features(x)
