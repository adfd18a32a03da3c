"""Download a dataset of the dataset index into a folder, ready to train on.

For an entry of :mod:`minim.index.datasets` and a folder DEST:

1. each file is downloaded to ``DEST/<file name>`` through :func:`minim.net.download.download` (resumed
   from ``<file>.part`` after a cut connection, ``MINIM_MIRROR`` applied) and verified against the
   index's sha256 and/or md5 (md5 where the publisher gives only md5); a file already there is verified
   and reused, a damaged one downloaded again. ``MINIM_OFFLINE=1`` uses only files already in DEST;
2. archives are unpacked into DEST safely (:mod:`minim.archive`);
3. the layout turns them into the folders the datasets read (:mod:`minim.dataset_layouts`);
4. the config template is written as ``DEST/<name>.py``: self-contained, with absolute data paths, so
   ``minim train cls DEST/<name>.py`` trains on it; a marker ``DEST/.minim-dataset-<name>.json`` records
   that the dataset is ready, and a later run only checks it (``overwrite`` redoes steps 2-4).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Callable

from minim.atomic import write_text_atomic
from minim.errors import ChecksumError, OfflineError
from minim.index.datasets import DatasetEntry, DatasetFile

#: how the ready config marks where the download folder goes
DATA_ROOT = "{data_root}"
_READ_BLOCK = 1 << 20

Report = Callable[[str, Path], None]


def marker_path(dest: Path, entry: DatasetEntry) -> Path:
    """The file that says ``entry`` is ready in ``dest``."""
    return dest / f".minim-dataset-{entry.name}.json"


def download_dataset(entry: DatasetEntry, dest, *, overwrite: bool = False, progress="auto", mirror=None,
                     report: Report = lambda status, path: None) -> Path:
    """Download, verify, unpack and lay out ``entry`` in ``dest``; return the ready config's path.

    ``report(status, path)`` is told each step: ``'present'``/``'downloaded'`` per file, ``'extracted'`` per
    archive, ``'laid out'`` per layout output, ``'config'`` and ``'ready'`` (already prepared earlier).
    """
    from minim.archive import extract
    from minim.dataset_layouts import LAYOUT_REQUIREMENTS, LAYOUTS

    dest = Path(dest).expanduser().absolute()
    mirror = _check_settings(mirror)
    config = dest / f"{entry.name}.py"
    marker = marker_path(dest, entry)
    if marker.is_file() and config.is_file() and not overwrite:
        report("ready", config)
        return config
    if entry.layout in LAYOUT_REQUIREMENTS:
        LAYOUT_REQUIREMENTS[entry.layout]()  # a missing package stops the run before any download
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for file in entry.files:
        path, status = fetch_dataset_file(file, dest, progress=progress, mirror=mirror)
        report(status, path)
        paths.append(path)
    for file, path in zip(entry.files, paths):
        if file.unpack:
            for made in extract(path, dest, file.unpack, overwrite=overwrite, progress=progress):
                report("extracted", made)
    for made in LAYOUTS[entry.layout](dest, entry.layout_options, overwrite):
        report("laid out", made)
    write_text_atomic(config, render_config(entry, dest))
    report("config", config)
    write_text_atomic(marker, json.dumps({"name": entry.name, "files": [f.url for f in entry.files]}, indent=1))
    return config


def _check_settings(mirror):
    """The mirror map, after checking MINIM_TIMEOUT, MINIM_OFFLINE and the mirror spec (bad ones fail first)."""
    from minim.net.mirror import resolve_mirrors
    from minim.net.session import timeout_from_env
    from minim.settings import offline

    timeout_from_env()
    offline()
    return resolve_mirrors(mirror)


# -- files --------------------------------------------------------------------------------------------
def digest_problem(path: Path, file: DatasetFile) -> str | None:
    """Why ``path`` is not ``file`` (size, sha256, md5: whichever the index gives), or None."""
    size = path.stat().st_size
    if file.size is not None and size != file.size:
        return f"it has {size} bytes, expected {file.size}"
    hashers = {name: hashlib.new(name) for name in ("sha256", "md5") if getattr(file, name)}
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_READ_BLOCK), b""):
            for hasher in hashers.values():
                hasher.update(block)
    for name, hasher in hashers.items():
        if hasher.hexdigest() != getattr(file, name):
            return f"expected {name} {getattr(file, name)}, actual {name} {hasher.hexdigest()}"
    return None


def fetch_dataset_file(file: DatasetFile, dest: Path, *, progress="auto", mirror=None) -> tuple[Path, str]:
    """``DEST/<file name>`` verified: reused when already there and intact, else downloaded.
    Returns the path and ``'present'`` or ``'downloaded'``."""
    from minim.net.download import download
    from minim.settings import offline

    target = dest / file.filename
    if target.is_file():
        problem = digest_problem(target, file)
        if problem is None:
            return target, "present"
        if offline():
            raise ChecksumError(f"{target} is damaged ({problem}) and MINIM_OFFLINE=1 forbids downloading it again",
                                hint="unset MINIM_OFFLINE, or replace the file")
        target.unlink()
    elif offline():
        raise OfflineError(f"offline (MINIM_OFFLINE=1): {file.url} is not in {dest}",
                           hint=f"download it once without MINIM_OFFLINE, or copy {file.filename} into {dest}")
    download(file.url, dest, sha256=file.sha256, size=file.size, progress=progress, mirror=mirror, cache=False)
    if file.md5:
        problem = digest_problem(target, file)
        if problem:
            target.unlink()
            raise ChecksumError(f"download of {file.url} is corrupt: {problem}; the file was deleted",
                                hint="try again; if it persists, the server or mirror holds a different file "
                                     "than the index")
    return target, "downloaded"


# -- config -------------------------------------------------------------------------------------------
def render_config(entry: DatasetEntry, dest: Path) -> str:
    """The entry's config template, flattened, with ``{data_root}`` replaced by ``dest``."""
    from minim.config import Config, load_config

    template = load_config(entry.config_path, confine_to=entry.index_file.parent)
    return Config.from_dict(_substitute(template.to_dict(), str(dest))).dump()


def _substitute(value: Any, root: str) -> Any:
    if isinstance(value, str):
        return value.replace(DATA_ROOT, root)
    if isinstance(value, dict):
        return {key: _substitute(item, root) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(item, root) for item in value)
    return value
