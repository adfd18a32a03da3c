"""Build a classifier from a ``model=dict(...)`` config."""

from __future__ import annotations

from typing import Any, Mapping

from minim.cls.models.registry import CLASSIFIERS
from minim.errors import BuildError, ConfigError


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


def num_classes_of(model) -> int:
    """The classifier's class count: ``model.head.num_classes`` (or ``model.num_classes``)."""
    for owner in (getattr(model, "head", None), model):
        value = getattr(owner, "num_classes", None)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise ConfigError("cannot tell the model's number of classes (it has no head.num_classes)")
