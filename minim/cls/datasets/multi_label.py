"""mmcls's multi-label datasets: ``MultiLabelDataset`` (labels as 1/0/-1 vectors) and Pascal ``VOC``."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ElementTree
from typing import Any

import numpy as np

from minim.cls.datasets.base import BaseDataset
from minim.cls.datasets.paths import require_file
from minim.cls.datasets.registry import DATASETS
from minim.cls.metrics.multi_label import evaluate_multilabel
from minim.errors import DataError

VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
               "tvmonitor")


class MultiLabelDataset(BaseDataset):
    """A dataset whose ``gt_label`` is a vector over the classes: 1 positive, 0 negative, -1 difficult.

    ``evaluate`` takes the metrics ``mAP``, ``CP``, ``CR``, ``CF1``, ``OP``, ``OR``, ``OF1`` and the
    options ``thr``/``k`` (default ``dict(thr=0.5)``), see :mod:`minim.cls.metrics.multi_label`.
    """

    def get_gt_labels(self) -> np.ndarray:
        """All label vectors as an ``(N, C)`` int8 array."""
        return np.array([info["gt_label"] for info in self.data_infos], dtype=np.int8)

    def get_cat_ids(self, idx: int) -> list[int]:
        """The positive classes of sample ``idx``."""
        return np.flatnonzero(np.asarray(self.data_infos[idx]["gt_label"]) == 1).tolist()

    def evaluate(self, results, metric: Any = "mAP", metric_options: dict | None = None,
                 indices: Any = None, logger: Any = None) -> dict:
        """Multi-label metrics of ``results`` (per-sample score rows) against the label vectors."""
        labels = self.get_gt_labels()
        if indices is not None:
            labels = labels[np.asarray(indices)]
        scores = np.vstack(results)
        if len(scores) != len(labels):
            raise DataError(f"{len(scores)} results for {len(labels)} samples of {type(self).__name__}")
        return evaluate_multilabel(scores, labels, metric, metric_options)


@DATASETS.register()
class VOC(MultiLabelDataset):
    """Pascal VOC 2007 classification: ``data_prefix`` is the ``VOC2007`` folder, ``ann_file`` a list of
    image ids (``ImageSets/Main/trainval.txt``); labels come from ``Annotations/<id>.xml``.

    Objects marked difficult become -1, or 1 / 0 with ``difficult_as_postive=True / False``
    (mmcls's spelling); a class with a non-difficult object is 1.
    """

    CLASSES = VOC_CLASSES

    def __init__(self, difficult_as_postive: bool | None = None, **kwargs: Any):
        self.difficult_as_postive = difficult_as_postive
        super().__init__(**kwargs)
        if "VOC2007" not in self.data_prefix:
            raise DataError(f"VOC: cannot tell the dataset year from data_prefix {self.data_prefix!r}",
                            hint="point data_prefix at the VOC2007 folder (the one holding Annotations/)")
        self.year = 2007

    def load_annotations(self) -> list[dict]:
        if self.ann_file is None:
            raise DataError("VOC needs ann_file (a list of image ids such as ImageSets/Main/test.txt)")
        require_file(self.ann_file, "ann_file")
        with open(self.ann_file, encoding="utf-8") as handle:
            image_ids = [line.strip() for line in handle if line.strip()]
        return [self._annotation(image_id) for image_id in image_ids]

    def _annotation(self, image_id: str) -> dict:
        xml_path = os.path.join(self.data_prefix, "Annotations", f"{image_id}.xml")
        require_file(xml_path, "VOC annotation")
        try:
            root = ElementTree.parse(xml_path).getroot()
        except ElementTree.ParseError as exc:
            raise DataError(f"{xml_path}: not a readable VOC annotation: {exc}") from None
        positive, difficult = [], []
        for obj in root.findall("object"):
            name = obj.findtext("name")
            if name not in self.class_to_idx:
                continue
            (difficult if int(obj.findtext("difficult") or 0) else positive).append(self.class_to_idx[name])
        gt_label = np.zeros(len(self.CLASSES), dtype=np.int8)
        gt_label[difficult] = -1 if self.difficult_as_postive is None else int(bool(self.difficult_as_postive))
        gt_label[positive] = 1
        return {"img_prefix": self.data_prefix, "img_info": {"filename": f"JPEGImages/{image_id}.jpg"},
                "gt_label": gt_label}
