"""The built-in ``digits`` dataset: scikit-learn's bundled handwritten digits as an image-folder tree.

``ensure_digits()`` writes the 1,797 8x8 images (grey levels 0-16 scaled to 0-255, 8-bit grayscale
PNG) once, as ``<root>/train/<digit>/<index>.png`` and ``<root>/val/<digit>/<index>.png`` with a
stratified 80/20 split (fixed seed: 1,438 train / 359 val), plus ``MANIFEST.json`` with the counts.
The tree is built in a temporary sibling folder and renamed into place, so an interrupted run never
leaves a half tree; a tree whose files do not match its manifest is rebuilt. Configs address it as
``data_prefix='minim://digits/train'`` (see :mod:`minim.cls.datasets.paths`); pipelines resize it
(e.g. ``Resize(32)``) and ``LoadImageFromFile`` turns the grey PNGs into 3-channel images.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from minim.cls.datasets.split import stratified_split
from minim.errors import DataError, PackageError
from minim.settings import minim_home

MANIFEST = "MANIFEST.json"
SPLIT_SEED = 0
VAL_FRACTION = 0.2
FORMAT_VERSION = 1


def default_digits_root() -> Path:
    """``minim_home()/datasets/digits``."""
    return minim_home() / "datasets" / "digits"


def ensure_digits(root: str | os.PathLike | None = None) -> Path:
    """The digits tree at ``root`` (default :func:`default_digits_root`), written on first use."""
    root = Path(root).expanduser() if root is not None else default_digits_root()
    if digits_tree_complete(root):
        return root
    images, labels = _load_sklearn_digits()
    try:
        root.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{root.name}.tmp-", dir=root.parent))
        try:
            _write_tree(staging, images, labels)
            _move_into_place(staging, root)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as exc:
        raise DataError(f"cannot write the digits dataset to {root}: {exc}", hint="set MINIM_HOME to a writable folder") from exc
    return root


def digits_tree_complete(root: Path) -> bool:
    """True when ``root`` holds a manifest whose per-class counts match the PNG files on disk."""
    try:
        manifest = json.loads((root / MANIFEST).read_text())
        if manifest.get("format") != FORMAT_VERSION:
            return False
        for split, counts in manifest["counts"].items():
            for label, count in counts.items():
                with os.scandir(root / split / label) as entries:
                    if sum(1 for e in entries if e.name.endswith(".png")) != count:
                        return False
        return True
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _load_sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    try:
        from sklearn.datasets import load_digits  # lazy: optional package (minim[digits])
    except ImportError:
        raise PackageError(
            "the built-in digits dataset needs scikit-learn, which is not installed",
            hint="pip install 'minim[digits]' (or: pip install scikit-learn)",
        ) from None
    digits = load_digits()
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def split_indices(labels: np.ndarray, val_fraction: float = VAL_FRACTION, seed: int = SPLIT_SEED) -> dict:
    """Stratified ``{'train': indices, 'val': indices}``: ``round(val_fraction * n)`` of each class to val."""
    return stratified_split(labels, {"val": val_fraction}, seed)


def _write_tree(staging: Path, images: np.ndarray, labels: np.ndarray) -> None:
    counts: dict[str, dict[str, int]] = {}
    for split, indices in split_indices(labels).items():
        counts[split] = {}
        for index in indices:
            label = str(int(labels[index]))
            folder = staging / split / label
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(images[index]).save(folder / f"{index:04d}.png")
            counts[split][label] = counts[split].get(label, 0) + 1
    manifest = {
        "format": FORMAT_VERSION,
        "source": "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits, test part)",
        "image": "8x8 8-bit grayscale PNG, grey levels 0-16 scaled to 0-255",
        "split": {"seed": SPLIT_SEED, "val_fraction": VAL_FRACTION, "stratified": True},
        "counts": {split: dict(sorted(c.items(), key=lambda kv: int(kv[0]))) for split, c in counts.items()},
        "total": int(len(labels)),
    }
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _move_into_place(staging: Path, root: Path) -> None:
    """Rename ``staging`` to ``root``, replacing an incomplete tree; a concurrent winner is kept."""
    if digits_tree_complete(root):  # another process finished first: keep its tree (it may be reading it)
        return
    stale = None
    if root.exists():
        stale = Path(tempfile.mkdtemp(prefix=f".{root.name}.stale-", dir=root.parent))
        try:
            os.replace(root, stale / root.name)
        except OSError:
            pass
    try:
        os.replace(staging, root)
    except OSError:
        if not digits_tree_complete(root):
            raise
    finally:
        if stale is not None:
            shutil.rmtree(stale, ignore_errors=True)
