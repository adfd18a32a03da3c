"""``MMClsWandbHook``'s W&B tables: validation images with their ground truth, and each evaluation's predictions.

What mmcls 0.25 logs, kept here: the images are the first ``num_eval_images`` of a permutation of the val set
drawn with seed 42 (the same images at every evaluation, the ones mmcls picks), as the val pipeline reads them
(before resizing and normalization; the in-memory pictures of CIFAR-style sets as they are). The ground truth
table ``val_data`` (columns ``image_name``, ``image``, ``ground_truth``) is logged once, as artifact ``val`` of
type ``dataset``. After each evaluation the table ``eval_data`` (columns ``epoch``, or ``iter`` for
iteration-based runs, then ``image_name``, ``image``, ``ground_truth``, ``prediction`` and one score column
per class) becomes a new version of artifact ``run_<run id>_pred`` of type ``evaluation``, with the aliases
``latest`` and ``epoch_<n>`` (``iter_<n>``).

One difference: mmcls declares ``val`` an input of the run (``use_artifact``) so that its prediction tables
can point at those images; W&B refuses ``use_artifact`` in offline mode, so minim logs ``val`` as an output
of the run and every prediction table holds its images itself.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from minim.cls.datasets.base import BaseDataset
from minim.cls.datasets.pipelines.loading import LoadImageFromFile

#: the seed of mmcls's permutation that picks the logged images
EVAL_IMAGES_SEED = 42


def eval_image_indices(size: int, count: int) -> np.ndarray:
    """The val samples whose images are logged: the first ``count`` of mmcls's seeded permutation."""
    return np.random.RandomState(EVAL_IMAGES_SEED).permutation(size)[:count]


def why_not_tabulated(dataset: Any) -> str | None:
    """Why the images of ``dataset`` cannot be tabulated (a reason in words), or None when they can."""
    if not isinstance(dataset, BaseDataset):
        return f"the val set ({type(dataset).__name__}) is not one of minim's image datasets"
    if not dataset.CLASSES:
        return "the val set has no class names"
    if np.ndim(dataset.get_gt_labels()) != 1:
        return "the val set is multi-label"
    return None


def sample_picture(dataset, index: int) -> tuple[str, np.ndarray]:
    """The name and the picture (``H x W x C`` or ``H x W`` uint8, RGB) of sample ``index``, as the dataset's
    pipeline loads it (up to its ``LoadImageFromFile``, if it has one)."""
    results = dataset.raw_results(index)
    steps = dataset.pipeline.transforms
    loader = next((i for i, step in enumerate(steps) if isinstance(step, LoadImageFromFile)), None)
    if loader is not None:
        results = dataset.pipeline(results, stop=loader + 1)
    picture = np.asarray(results["img"]).transpose(1, 2, 0).clip(0, 255).astype(np.uint8)
    if picture.shape[2] == 1:
        picture = picture[:, :, 0]
    return results.get("filename") or f"img_{index}", picture


class EvalTables:
    """Logs the ground truth table once (on creation) and a prediction table per :meth:`log_predictions`."""

    def __init__(self, wandb, run, dataset, count: int, by_epoch: bool):
        self.wandb = wandb
        self.run = run
        self.classes: Sequence[str] = list(dataset.CLASSES)
        self.unit = "epoch" if by_epoch else "iter"
        self.indices = eval_image_indices(len(dataset), count)
        labels = dataset.get_gt_labels()
        self.rows = []
        for index in self.indices:
            name, picture = sample_picture(dataset, int(index))
            self.rows.append((name, wandb.Image(picture), self.classes[int(labels[index])]))
        table = wandb.Table(columns=["image_name", "image", "ground_truth"])
        for row in self.rows:
            table.add_data(*row)
        artifact = wandb.Artifact("val", type="dataset")
        artifact.add(table, "val_data")
        run.log_artifact(artifact)

    def log_predictions(self, scores: np.ndarray, number: int) -> None:
        """The table of evaluation ``number`` (epoch or iteration) from the val set's score rows."""
        table = self.wandb.Table(columns=[self.unit, "image_name", "image", "ground_truth", "prediction",
                                          *self.classes])
        for index, row in zip(self.indices, self.rows):
            row_scores = [float(s) for s in scores[index]]
            table.add_data(number, *row, self.classes[int(np.argmax(row_scores))], *row_scores)
        artifact = self.wandb.Artifact(f"run_{self.run.id}_pred", type="evaluation")
        artifact.add(table, "eval_data")
        self.run.log_artifact(artifact, aliases=["latest", f"{self.unit}_{number}"])
