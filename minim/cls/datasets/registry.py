"""The ``DATASETS`` and ``PIPELINES`` registries of the ``cls`` engine."""

from __future__ import annotations

from minim.registry import Registry

DATASETS = Registry("dataset")
PIPELINES = Registry("pipeline transform")

DATASETS.register_lazy(["VOC"], "minim.cls.datasets.multi_label")
