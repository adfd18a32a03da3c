"""Confusion matrices: from a model run over ``data.test`` or a ``minim test --out`` file; CSV and plot."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from minim.atomic import write_text_atomic
from minim.cls.apis.test import test_checkpoint
from minim.cls.engine.device import resolve_device
from minim.cls.metrics import confusion_matrix
from minim.cls.plan import load_cls_config
from minim.errors import DataError, NotFoundError, UsageError
from minim.plotting import check_cmap, check_plot_path, new_figure, save_figure

#: above this many classes the plot drops its tick labels (they would overlap)
MAX_LABELLED_CLASSES = 60
#: above this many classes cell values are not written even with ``show_values``
MAX_VALUED_CLASSES = 40


@dataclass
class Confusion:
    """``matrix[i, j]`` = images of true class ``i`` predicted as ``j``."""

    matrix: np.ndarray
    classes: list[str]
    source: str

    @property
    def accuracy(self) -> float:
        """Top-1 accuracy in percent (0 for an empty matrix)."""
        total = int(self.matrix.sum())
        return 100.0 * float(np.trace(self.matrix)) / total if total else 0.0


def confusion_from_labels(pred_labels: Sequence[int], gt_labels: Sequence[int], classes: Sequence[str],
                          source: str) -> Confusion:
    """Count (ground truth, prediction) pairs over ``len(classes)`` classes."""
    matrix = confusion_matrix(pred_labels, gt_labels, len(classes))
    return Confusion(matrix=np.asarray(matrix, dtype=np.int64), classes=[str(c) for c in classes], source=source)


def confusion_from_results(path: str | Path) -> Confusion:
    """The confusion matrix of a ``minim test cls ... --out FILE.json`` file."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"results file {path} does not exist")
    if path.suffix.lower() in (".pkl", ".pickle"):  # never unpickled: a pickle can run code
        raise DataError(f"{path}: --results reads minim's JSON layout, not a pickle",
                        hint="write it with `minim test cls CONFIG --checkpoint CKPT --out FILE.json`")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a JSON file ({exc})") from None
    predictions = data.get("predictions") if isinstance(data, dict) else None
    if not isinstance(predictions, list):
        raise DataError(f"{path}: no 'predictions' list",
                        hint="write it with `minim test cls CONFIG --checkpoint CKPT --out FILE.json`")
    gt, pred = [], []
    for i, item in enumerate(predictions):
        if not isinstance(item, dict) or not all(_is_label(item.get(k)) for k in ("gt_label", "pred_label")):
            raise DataError(f"{path}: predictions[{i}] needs integer 'gt_label' and 'pred_label'")
        gt.append(item["gt_label"])
        pred.append(item["pred_label"])
    classes = data.get("classes")
    if not (isinstance(classes, list) and classes):
        count = max(gt + pred, default=-1) + 1
        classes = [f"class_{i}" for i in range(count)]
    elif max(gt + pred, default=-1) >= len(classes):
        raise DataError(f"{path}: a label is {max(gt + pred)} but 'classes' names only {len(classes)} classes")
    return confusion_from_labels(pred, gt, classes, source=path.name)


def _is_label(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def confusion_from_model(config: Any, checkpoint: str | None, cfg_options: Sequence[str] = (),
                         device: str | None = None) -> Confusion:
    """Run ``checkpoint`` over the config's ``data.test`` and count its top-1 predictions."""
    cfg, entry = load_cls_config(config, list(cfg_options))
    run = test_checkpoint(cfg, checkpoint, entry, resolve_device(device))
    source = Path(str(checkpoint)).name if checkpoint else str(config)
    return confusion_from_labels(run.scores.argmax(axis=1).tolist(), run.gt_labels.tolist(), run.classes,
                                 source=source)


def confusion_csv(confusion: Confusion) -> str:
    """CSV text: a header row ``true\\predicted,<class>...``, then one row per true class."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["true\\predicted", *confusion.classes])
    for name, row in zip(confusion.classes, confusion.matrix):
        writer.writerow([name, *(int(v) for v in row)])
    return buffer.getvalue()


def check_outputs(out: str | Path | None, csv_file: str | Path | None, cmap: str = "Blues") -> None:
    """Refuse bad output options before any work: the plot's format, the CSV suffix, the colour map."""
    if csv_file is not None and Path(csv_file).suffix.lower() != ".csv":
        raise UsageError(f"--csv must name a .csv file, got {Path(csv_file).name}")
    if out is not None:
        check_plot_path(out)
        check_cmap(cmap)


def write_confusion_csv(confusion: Confusion, path: str | Path) -> Path:
    """Write :func:`confusion_csv` to ``path`` atomically."""
    check_outputs(None, path)
    return write_text_atomic(Path(path), confusion_csv(confusion))


def plot_confusion(confusion: Confusion, path: str | Path, *, show_values: bool = False, normalize: bool = False,
                   cmap: str = "Blues", title: str | None = None) -> Path:
    """Draw the matrix (class names on both axes, colour bar) into ``path`` (.png, .pdf, .svg).

    ``normalize`` shows each true class's row as fractions (recall on the diagonal).
    """
    check_outputs(path, None, cmap)
    counts = confusion.matrix
    n = len(confusion.classes)
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float), where=totals > 0)
    else:
        values = counts.astype(float)
    side = float(min(max(6.0, 0.45 * n + 3.0), 30.0))
    figure = new_figure(side + 1.2, side)
    ax = figure.add_subplot()
    image = ax.imshow(values, cmap=cmap, interpolation="nearest", vmin=0, vmax=1 if normalize else None)
    colorbar = figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    colorbar.set_label("fraction of the true class" if normalize else "images")
    if not normalize:
        from matplotlib.ticker import MaxNLocator  # lazy: optional package (minim[plot])

        colorbar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if n <= MAX_LABELLED_CLASSES:
        ax.set_xticks(range(n), labels=confusion.classes, rotation=45, ha="right", rotation_mode="anchor")
        ax.set_yticks(range(n), labels=confusion.classes)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if show_values and n <= MAX_VALUED_CLASSES:
        _write_values(ax, values, normalize, image)
    ax.set_title(title or f"Confusion matrix: {confusion.source} (top-1 accuracy {confusion.accuracy:.2f}%, "
                          f"{int(counts.sum())} images)")
    return save_figure(figure, path)


def _write_values(ax, values: np.ndarray, normalize: bool, image) -> None:
    low, high = image.get_clim()
    middle = (low + high) / 2
    size = 9 if len(values) <= 15 else 7
    for (i, j), value in np.ndenumerate(values):
        text = f"{value:.2f}" if normalize else f"{int(value)}"
        ax.text(j, i, text, ha="center", va="center", fontsize=size,
                color="white" if value > middle else "black")
