"""The common classification heads with mmcls 0.x arguments and state-dict keys."""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from minim.cls.models.layers import build_activation, build_norm1d
from minim.cls.models.registry import HEADS, LOSSES

_DEFAULT_LOSS = {"type": "CrossEntropyLoss", "loss_weight": 1.0}


def _check_topk(topk: Any) -> int | tuple[int, ...]:
    if isinstance(topk, bool) or not isinstance(topk, (int, tuple, list)):
        raise ValueError(f"topk must be an int or a tuple of ints, got {topk!r}")
    values = [topk] if isinstance(topk, int) else list(topk)
    if not values or any(isinstance(k, bool) or not isinstance(k, int) or k <= 0 for k in values):
        raise ValueError(f"topk values must be positive ints, got {topk!r}")
    return topk if isinstance(topk, int) else tuple(values)


def init_layers(module: nn.Module, init_cfg: Any) -> None:
    """Apply mmcv-style ``init_cfg`` dict(s) (Normal, TruncNormal, Constant, Xavier, Kaiming, Uniform)."""
    if init_cfg is None:
        return
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    for cfg in cfgs:
        if not isinstance(cfg, Mapping) or "type" not in cfg:
            raise ValueError(f"init_cfg must be a dict with a 'type' key, got {cfg!r}")
        cfg = dict(cfg)
        kind = cfg.pop("type")
        layers = cfg.pop("layer", "Linear")
        layers = [layers] if isinstance(layers, str) else list(layers)
        bias = cfg.pop("bias", 0.0)
        for layer in module.modules():
            if type(layer).__name__ not in layers or not hasattr(layer, "weight"):
                continue
            _init_weight(layer.weight, kind, cfg)
            if getattr(layer, "bias", None) is not None:
                nn.init.constant_(layer.bias, bias)


def _init_weight(weight: torch.Tensor, kind: str, cfg: dict) -> None:
    if kind == "Normal":
        nn.init.normal_(weight, cfg.get("mean", 0.0), cfg.get("std", 1.0))
    elif kind == "TruncNormal":
        mean, std = cfg.get("mean", 0.0), cfg.get("std", 1.0)
        nn.init.trunc_normal_(weight, mean, std, cfg.get("a", -2.0), cfg.get("b", 2.0))
    elif kind == "Constant":
        nn.init.constant_(weight, cfg.get("val", 0.0))
    elif kind == "Uniform":
        nn.init.uniform_(weight, cfg.get("a", 0.0), cfg.get("b", 1.0))
    elif kind == "Xavier":
        init = nn.init.xavier_uniform_ if cfg.get("distribution", "normal") == "uniform" else nn.init.xavier_normal_
        init(weight, gain=cfg.get("gain", 1.0))
    elif kind == "Kaiming":
        init = nn.init.kaiming_uniform_ if cfg.get("distribution", "normal") == "uniform" else nn.init.kaiming_normal_
        init(weight, a=cfg.get("a", 0.0), mode=cfg.get("mode", "fan_out"),
             nonlinearity=cfg.get("nonlinearity", "relu"))
    else:
        raise ValueError(f"unsupported init_cfg type {kind!r}; use Normal, TruncNormal, Constant, Uniform, Xavier "
                         "or Kaiming")


@HEADS.register()
class ClsHead(nn.Module):
    """mmcls ``ClsHead``: takes logits (a backbone that keeps its classifier) and computes the loss.

    ``topk`` larger than the class count is clamped (one warning) instead of crashing the
    evaluation.  With ``cal_acc=True`` the training output also has ``accuracy``.
    """

    def __init__(self, loss: Mapping[str, Any] | None = None, topk: Any = (1,), cal_acc: bool = False,
                 init_cfg: Any = None):
        super().__init__()
        self.compute_loss = LOSSES.build(dict(loss) if loss is not None else dict(_DEFAULT_LOSS))
        self.topk = _check_topk(topk)
        self.cal_acc = bool(cal_acc)
        self.init_cfg = init_cfg
        self.num_classes: int | None = None

    # -- class count -------------------------------------------------------------------------
    def set_num_classes(self, num_classes: int) -> None:
        """Record the class count (for heads that get logits) and clamp ``topk`` to it."""
        self.num_classes = num_classes
        self._clamp_topk(num_classes)

    def _clamp_topk(self, num_classes: int | None) -> None:
        """Drop ks above the class count (as the metrics do; they warn once), keeping at least one k."""
        if not num_classes:
            return
        values = [self.topk] if isinstance(self.topk, int) else list(self.topk)
        if max(values) <= num_classes:
            return
        kept = [k for k in values if k <= num_classes] or [num_classes]
        self.topk = kept[0] if isinstance(self.topk, int) else tuple(kept)

    # -- layers --------------------------------------------------------------------------------
    def linear_layer_paths(self) -> list[str]:
        """Paths of the head's linear layers, first to last (checkpoint mapping)."""
        return []

    def pre_logits(self, x):
        if isinstance(x, (tuple, list)):
            x = x[-1]
        return x

    def forward(self, x) -> torch.Tensor:
        """Logits."""
        return self.pre_logits(x)

    # -- training / testing -------------------------------------------------------------------
    def loss(self, cls_score: torch.Tensor, gt_label: torch.Tensor) -> dict:
        losses = {"loss": self.compute_loss(cls_score, gt_label, avg_factor=cls_score.shape[0])}
        if self.cal_acc and gt_label.dim() == 1:
            self._clamp_topk(cls_score.shape[1])
            losses["accuracy"] = topk_accuracy(cls_score.detach(), gt_label, self.topk)
        return losses

    def forward_train(self, x, gt_label: torch.Tensor) -> dict:
        return self.loss(self.forward(x), gt_label)

    def simple_test(self, x) -> torch.Tensor:
        """Softmax scores ``(N, C)``."""
        return F.softmax(self.forward(x), dim=1)


def topk_accuracy(cls_score: torch.Tensor, gt_label: torch.Tensor, topk) -> dict:
    """``{'top-k': percentage}`` for each k (k clamped to the class count)."""
    ks = [topk] if isinstance(topk, int) else list(topk)
    num_classes = cls_score.shape[1]
    top = cls_score.topk(min(max(ks), num_classes), dim=1).indices
    hits = top.eq(gt_label.reshape(-1, 1))
    return {f"top-{k}": hits[:, : min(k, num_classes)].any(dim=1).float().mean() * 100.0 for k in ks}


class _OneFc:
    """One ``fc`` layer on the pre-logits (keys ``head.fc.*``), mmcls's default Normal(std=0.01) init."""

    def _build_fc(self, num_classes: int, in_channels: int, init_cfg: Any, bias: bool = True) -> None:
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        self.in_channels = in_channels
        self.init_cfg = init_cfg if init_cfg is not None else {"type": "Normal", "layer": "Linear", "std": 0.01}
        self.fc = nn.Linear(in_channels, num_classes, bias=bias)
        init_layers(self, self.init_cfg)
        self.set_num_classes(num_classes)

    def linear_layer_paths(self) -> list[str]:
        return ["fc"]

    def forward(self, x) -> torch.Tensor:
        return self.fc(self.pre_logits(x))


@HEADS.register()
class LinearClsHead(_OneFc, ClsHead):
    """mmcls ``LinearClsHead(num_classes, in_channels)``: one ``fc`` layer (keys ``head.fc.*``).

    ``bias=False`` (minim extension) matches torchvision classifiers without a bias (MaxViT).
    """

    def __init__(self, num_classes: int, in_channels: int, init_cfg: Any = None, bias: bool = True,
                 loss: Mapping[str, Any] | None = None, topk: Any = (1,), cal_acc: bool = False):
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc)
        self._build_fc(num_classes, in_channels, init_cfg, bias)


_MULTI_LABEL_LOSS = {"type": "CrossEntropyLoss", "use_sigmoid": True, "reduction": "mean", "loss_weight": 1.0}


@HEADS.register()
class MultiLabelClsHead(ClsHead):
    """mmcls ``MultiLabelClsHead``: per-class targets (multi-hot, or the soft labels Mixup/CutMix make;
    class indices become one-hot), sigmoid scores at test time. Negative targets (VOC's "difficult")
    count as positive, as in mmcls."""

    def __init__(self, loss: Mapping[str, Any] | None = None, init_cfg: Any = None):
        super().__init__(loss=loss if loss is not None else dict(_MULTI_LABEL_LOSS), init_cfg=init_cfg)

    def loss(self, cls_score: torch.Tensor, gt_label: torch.Tensor) -> dict:
        if gt_label.dim() == 1 or gt_label.shape != cls_score.shape:
            gt_label = F.one_hot(gt_label.reshape(-1).long(), cls_score.shape[1])
        target = gt_label.to(cls_score.dtype).abs()
        return {"loss": self.compute_loss(cls_score, target, avg_factor=cls_score.shape[0])}

    def simple_test(self, x) -> torch.Tensor:
        """Sigmoid scores ``(N, C)``."""
        return torch.sigmoid(self.forward(x))


@HEADS.register()
class MultiLabelLinearClsHead(_OneFc, MultiLabelClsHead):
    """mmcls ``MultiLabelLinearClsHead(num_classes, in_channels)``: one ``fc`` layer (keys ``head.fc.*``)."""

    def __init__(self, num_classes: int, in_channels: int, loss: Mapping[str, Any] | None = None,
                 init_cfg: Any = None):
        super().__init__(loss=loss)
        self._build_fc(num_classes, in_channels, init_cfg)


class LinearBlock(nn.Module):
    """fc -> norm -> activation -> dropout (mmcls ``LinearBlock`` keys: ``fc``, ``norm``)."""

    def __init__(self, in_channels: int, out_channels: int, dropout_rate: float = 0.0, norm_cfg=None, act_cfg=None):
        super().__init__()
        self.fc = nn.Linear(in_channels, out_channels)
        self.norm = build_norm1d(norm_cfg, out_channels)
        self.act = build_activation(act_cfg)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0 else nn.Identity()

    def forward(self, x):
        return self.dropout(self.act(self.norm(self.fc(x))))


@HEADS.register()
class StackedLinearClsHead(ClsHead):
    """mmcls ``StackedLinearClsHead``: ``len(mid_channels)`` hidden LinearBlocks + a final linear layer.

    Keys ``head.layers.{i}.fc.*`` (+ ``norm``); the last block is the classifier.
    """

    def __init__(self, num_classes: int, in_channels: int, mid_channels: Sequence[int], dropout_rate: float = 0.0,
                 norm_cfg=None, act_cfg: Mapping[str, Any] | None = None, init_cfg: Any = None,
                 loss: Mapping[str, Any] | None = None, topk: Any = (1,), cal_acc: bool = False):
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        if isinstance(mid_channels, (str, int)) or not isinstance(mid_channels, Sequence):
            raise ValueError(f"mid_channels must be a list of ints, got {mid_channels!r}")
        act_cfg = {"type": "ReLU"} if act_cfg is None else act_cfg
        self.in_channels = in_channels
        self.mid_channels = list(mid_channels)
        widths = [in_channels] + self.mid_channels
        blocks = [LinearBlock(a, b, dropout_rate, norm_cfg, act_cfg) for a, b in zip(widths[:-1], widths[1:])]
        blocks.append(LinearBlock(widths[-1], num_classes))
        self.layers = nn.ModuleList(blocks)
        self.init_cfg = init_cfg if init_cfg is not None else {"type": "Normal", "layer": "Linear", "std": 0.01}
        init_layers(self, self.init_cfg)
        self.set_num_classes(num_classes)

    def linear_layer_paths(self) -> list[str]:
        return [f"layers.{i}.fc" for i in range(len(self.layers))]

    def pre_logits(self, x):
        x = super().pre_logits(x)
        for layer in self.layers[:-1]:
            x = layer(x)
        return x

    def forward(self, x) -> torch.Tensor:
        return self.layers[-1](self.pre_logits(x))


@HEADS.register()
class VisionTransformerClsHead(ClsHead):
    """mmcls ``VisionTransformerClsHead``: ``layers.head`` (and ``layers.pre_logits`` + act with ``hidden_dim``)."""

    def __init__(self, num_classes: int, in_channels: int, hidden_dim: int | None = None,
                 act_cfg: Mapping[str, Any] | None = None, init_cfg: Any = None,
                 loss: Mapping[str, Any] | None = None, topk: Any = (1,), cal_acc: bool = False):
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        self.in_channels = in_channels
        self.hidden_dim = hidden_dim
        if hidden_dim is None:
            layers = [("head", nn.Linear(in_channels, num_classes))]
        else:
            act = build_activation(act_cfg if act_cfg is not None else {"type": "Tanh"})
            layers = [("pre_logits", nn.Linear(in_channels, hidden_dim)), ("act", act),
                      ("head", nn.Linear(hidden_dim, num_classes))]
        self.layers = nn.Sequential(OrderedDict(layers))
        if init_cfg is None:
            if hidden_dim is not None:
                fan_in = self.layers.pre_logits.in_features
                nn.init.trunc_normal_(self.layers.pre_logits.weight, std=math.sqrt(1 / fan_in))
                nn.init.zeros_(self.layers.pre_logits.bias)
            nn.init.zeros_(self.layers.head.weight)
            nn.init.zeros_(self.layers.head.bias)
        else:
            init_layers(self, init_cfg)
        self.init_cfg = init_cfg
        self.set_num_classes(num_classes)

    def linear_layer_paths(self) -> list[str]:
        return ["layers.head"] if self.hidden_dim is None else ["layers.pre_logits", "layers.head"]

    def pre_logits(self, x):
        x = super().pre_logits(x)
        if isinstance(x, (tuple, list)):
            x = x[-1]
        if self.hidden_dim is None:
            return x
        return self.layers.act(self.layers.pre_logits(x))

    def forward(self, x) -> torch.Tensor:
        return self.layers.head(self.pre_logits(x))
