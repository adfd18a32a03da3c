"""mmcls's VOC dataset and MultiLabelDataset: labels from VOC XML as mmcls reads them, multi-label evaluate."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from minim.cls.datasets import build_dataset
from minim.errors import DataError

OBJECTS = {  # image id -> (class, difficult) objects
    "000001": [("dog", 0), ("person", 0)],
    "000002": [("cat", 1), ("cat", 0), ("sofa", 1)],
    "000003": [("horse", 1), ("unicorn", 0)],
}


def make_voc(root):
    voc = root / "VOCdevkit" / "VOC2007"
    (voc / "Annotations").mkdir(parents=True)
    (voc / "JPEGImages").mkdir()
    (voc / "ImageSets" / "Main").mkdir(parents=True)
    for image_id, objects in OBJECTS.items():
        body = "".join(f"<object><name>{name}</name><difficult>{hard}</difficult></object>" for name, hard in objects)
        (voc / "Annotations" / f"{image_id}.xml").write_text(f"<annotation>{body}</annotation>")
        Image.new("RGB", (8, 6), (10, 20, 30)).save(voc / "JPEGImages" / f"{image_id}.jpg")
    (voc / "ImageSets" / "Main" / "test.txt").write_text("\n".join(OBJECTS) + "\n")
    return voc


def voc(voc_root, **kwargs):
    return build_dataset(dict(type="VOC", data_prefix=str(voc_root), ann_file=str(voc_root / "ImageSets/Main/test.txt"),
                              pipeline=[dict(type="LoadImageFromFile")], **kwargs))


def index(name):
    from minim.cls.datasets.multi_label import VOC_CLASSES

    return VOC_CLASSES.index(name)


@pytest.mark.parametrize("difficult, value", [(None, -1), (True, 1), (False, 0)])
def test_voc_labels_follow_mmcls(tmp_path, difficult, value):
    dataset = voc(make_voc(tmp_path), difficult_as_postive=difficult)
    labels = dataset.get_gt_labels()
    assert labels.shape == (3, 20) and labels.dtype == np.int8
    assert labels[0, index("dog")] == labels[0, index("person")] == 1 and labels[0].sum() == 2
    assert labels[1, index("cat")] == 1  # a non-difficult object wins over a difficult one
    assert labels[1, index("sofa")] == value and labels[2, index("horse")] == value
    assert dataset.get_cat_ids(0) == sorted([index("dog"), index("person")])
    assert dataset[0]["img"].shape[-2:] == (6, 8)


def test_voc_needs_the_voc2007_folder(tmp_path):
    voc_root = make_voc(tmp_path)
    renamed = voc_root.parent / "VOC2012"
    voc_root.rename(renamed)
    with pytest.raises(DataError, match="VOC2007"):
        voc(renamed)


def test_multilabel_evaluate(tmp_path):
    dataset = voc(make_voc(tmp_path))
    scores = np.full((3, 20), 0.1)
    scores[0, index("dog")] = 0.9
    scores[1, index("cat")] = 0.8
    scores[2, index("horse")] = 0.7
    results = dataset.evaluate(list(scores), metric=["mAP", "OP", "OR"])
    assert results["OP"] == pytest.approx(200 / 3) and results["OR"] == pytest.approx(200 / 3)
    assert 0 < results["mAP"] <= 100
