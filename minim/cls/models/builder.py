"""Build a classifier from a ``model=dict(...)`` config."""

from __future__ import annotations

from typing import Any, Mapping

from minim.cls.models.registry import CLASSIFIERS
from minim.errors import BuildError


def _plain(value: Any) -> Any:
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_plain(item) for item in value)
    return value


def build_classifier(cfg: Mapping[str, Any]):
    """Build ``cfg`` (``cfg.model`` of a config: a dict with ``type='ImageClassifier'``, ...)."""
    if not isinstance(cfg, Mapping):
        raise BuildError(f"the model config must be a dict, got {type(cfg).__name__}")
    return CLASSIFIERS.build(_plain(cfg))
