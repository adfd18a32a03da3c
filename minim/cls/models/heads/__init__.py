"""Classification heads: the common ones, and family-specific heads imported when a config names them."""

from minim.cls.models.heads.common import (
    ClsHead,
    LinearClsHead,
    MultiLabelClsHead,
    MultiLabelLinearClsHead,
    StackedLinearClsHead,
    VisionTransformerClsHead,
    init_layers,
    topk_accuracy,
)
from minim.cls.models.registry import HEADS

HEADS.register_lazy(["DeiTClsHead"], "minim.cls.models.heads.deit")
HEADS.register_lazy(["ConformerHead"], "minim.cls.models.heads.conformer")
HEADS.register_lazy(["EfficientFormerClsHead"], "minim.cls.models.heads.efficientformer")
HEADS.register_lazy(["CSRAClsHead"], "minim.cls.models.heads.csra")

__all__ = [
    "ClsHead", "LinearClsHead", "MultiLabelClsHead", "MultiLabelLinearClsHead", "StackedLinearClsHead",
    "VisionTransformerClsHead", "init_layers", "topk_accuracy",
]
