"""Record mmcls 0.25's ClassBalancedDataset / KFoldDataset index lists as a test fixture.

Run with the oracle's interpreter (mmcls is never a dependency of minim):
    /work/oracle/venv/bin/python scripts/record_mmcls_wrappers.py
writes tests/fixtures/mmcls_wrappers/indices.json, read by tests/test_cls_imbalance.py.
"""

import json
from pathlib import Path

from mmcls.datasets.dataset_wrappers import ClassBalancedDataset, KFoldDataset

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "mmcls_wrappers" / "indices.json"

#: single-label labels (one class per sample) and multi-label positives, the inputs both sides use
SINGLE = [0] * 12 + [1] * 5 + [2] * 2 + [3]
MULTI = [[0], [0, 1], [0], [1], [0, 2], [0], [0], [3, 0], [0], [0, 1]]


class Labels:
    """The part of a dataset the wrappers read: length, get_cat_ids, get_gt_labels, CLASSES."""

    CLASSES = ("a", "b", "c", "d")

    def __init__(self, cat_ids):
        self.cat_ids = cat_ids

    def __len__(self):
        return len(self.cat_ids)

    def get_cat_ids(self, idx):
        return list(self.cat_ids[idx])

    def get_gt_labels(self):
        return [ids[0] for ids in self.cat_ids]


def main():
    single = Labels([[label] for label in SINGLE])
    record = {"single": SINGLE, "multi": MULTI, "class_balanced": [], "kfold": []}
    for name, data in (("single", single), ("multi", Labels(MULTI))):
        for thr in (0.05, 0.1, 0.3, 0.5, 1.0):
            record["class_balanced"].append(
                {"labels": name, "oversample_thr": thr, "indices": ClassBalancedDataset(data, thr).repeat_indices})
    for num_splits in (2, 3, 5, 7):
        for fold in range(num_splits):
            for seed in (None, 0, 42):
                for test_mode in (False, True):
                    wrapped = KFoldDataset(single, fold=fold, num_splits=num_splits, test_mode=test_mode, seed=seed)
                    record["kfold"].append({"fold": fold, "num_splits": num_splits, "seed": seed,
                                            "test_mode": test_mode, "indices": [int(i) for i in wrapped.indices]})
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(record, separators=(",", ":")) + "\n")
    print(f"wrote {OUT} ({len(record['class_balanced'])} ClassBalancedDataset, "
          f"{len(record['kfold'])} KFoldDataset cases)")


if __name__ == "__main__":
    main()
