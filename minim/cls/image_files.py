"""Image files named on a command line (files and folders), and where each one's output goes (no torch to import)."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from minim.errors import DataError


def collect_images(inputs: Sequence[str]) -> list[Path]:
    """Files given directly, plus the image files below each folder (recursively, sorted; hidden files and
    folders such as ``.ipynb_checkpoints`` or macOS ``._x.jpg`` skipped, as the datasets skip them)."""
    return [file for file, _ in image_targets(inputs)]


def image_targets(inputs: Sequence[str]) -> list[tuple[Path, Path]]:
    """``(file, where its annotated copy goes below --show-dir)`` per image: its path inside the folder
    given (under the folder's name when several inputs were given), or its name for a file given."""
    from minim.cls.datasets.custom import IMG_EXTENSIONS, find_images  # lazy: torch; minim train's plan imports this

    found: list[tuple[Path, Path]] = []
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_dir():
            names = find_images(str(path), IMG_EXTENSIONS)
            if not names:
                raise DataError(f"{path} holds no image ({', '.join(IMG_EXTENSIONS)})")
            base = Path(path.resolve().name) if len(inputs) > 1 else Path()
            found.extend((path / name, base / name) for name in names)
        elif path.is_file():
            found.append((path, Path(path.name)))
        else:
            raise DataError(f"image {path} does not exist")
    return _unique_targets(found)


def _unique_targets(found: list[tuple[Path, Path]]) -> list[tuple[Path, Path]]:
    """Make clashing show-dir targets distinct (``x.jpg``, ``x_2.jpg``, ...), keeping the first as it is."""
    seen: set[Path] = set()
    unique = []
    for file, target in found:
        candidate, n = target, 1
        while candidate in seen:
            n += 1
            candidate = target.with_name(f"{target.stem}_{n}{target.suffix}")
        seen.add(candidate)
        unique.append((file, candidate))
    return unique
