"""The registries of the ``cls`` model side: config ``type`` names -> classes."""

from __future__ import annotations

from minim.registry import Registry

BACKBONES = Registry("backbone")
NECKS = Registry("neck")
HEADS = Registry("head")
LOSSES = Registry("loss")
CLASSIFIERS = Registry("classifier")
AUGMENTS = Registry("batch augment")
