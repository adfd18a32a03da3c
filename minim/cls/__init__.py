"""The built-in ``cls`` codebase: an mmcls 0.x-style image-classification engine on torch and torchvision.

``from minim.cls import create_model, list_models`` is the timm-style API (see :mod:`minim.cls.create`);
the mmcls-style one is :mod:`minim.cls.apis` (``init_model``, ``inference_model``, ...).
"""

from minim.cls.create import create_model, list_models

__all__ = ["create_model", "list_models"]
