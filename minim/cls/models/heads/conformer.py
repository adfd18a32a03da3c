"""mmcls 0.x ``ConformerHead``: one classifier per Conformer branch."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
from torch import nn

from minim.cls.models.heads.common import ClsHead, topk_accuracy
from minim.cls.models.registry import HEADS


@HEADS.register()
class ConformerHead(ClsHead):
    """mmcls ``ConformerHead(num_classes, in_channels=[cnn_channels, embed_dims])``: ``conv_cls_head`` on
    the pooled CNN features and ``trans_cls_head`` on the class token.

    The logits are the two branches' scores summed (what mmcls's softmax sees); the training loss is
    the mean of the two branches' losses, as in mmcls.
    """

    def __init__(self, num_classes: int, in_channels: Sequence[int], init_cfg: Any = None,
                 loss: Mapping[str, Any] | None = None, topk: Any = (1,), cal_acc: bool = False):
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if not isinstance(num_classes, int) or num_classes <= 0:
            raise ValueError(f"num_classes={num_classes!r} must be a positive integer")
        if isinstance(in_channels, (str, int)) or len(in_channels) != 2:
            raise ValueError(f"ConformerHead: in_channels must be [cnn_channels, embed_dims], got {in_channels!r}")
        self.in_channels = list(in_channels)
        self.conv_cls_head = nn.Linear(self.in_channels[0], num_classes)
        self.trans_cls_head = nn.Linear(self.in_channels[1], num_classes)
        for layer in (self.conv_cls_head, self.trans_cls_head):
            nn.init.trunc_normal_(layer.weight, std=0.02)
            nn.init.zeros_(layer.bias)
        self.set_num_classes(num_classes)

    def linear_layer_paths(self) -> list[str]:
        return ["conv_cls_head", "trans_cls_head"]

    def branch_scores(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """(CNN-branch logits, transformer-branch logits)."""
        conv_features, trans_features = self.pre_logits(x)
        return self.conv_cls_head(conv_features), self.trans_cls_head(trans_features)

    def forward(self, x) -> torch.Tensor:
        conv_score, trans_score = self.branch_scores(x)
        return conv_score + trans_score

    def forward_train(self, x, gt_label: torch.Tensor) -> dict:
        scores = self.branch_scores(x)
        count = scores[0].shape[0]
        losses = {"loss": sum(self.compute_loss(score, gt_label, avg_factor=count) for score in scores) / 2}
        if self.cal_acc and gt_label.dim() == 1:
            self._clamp_topk(self.num_classes)
            losses["accuracy"] = topk_accuracy((scores[0] + scores[1]).detach(), gt_label, self.topk)
        return losses
