"""Download index models: a flattened config and checksum-verified weights per entry.

The config is written first (it needs no network), then the weights, so a network
failure never costs the user the config. Both appear only by atomic rename.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from minim.atomic import write_text_atomic
from minim.errors import ConfigError, DownloadError, MinimError
from minim.index.schema import ModelEntry


@dataclass
class FileOutcome:
    """What happened to one file: 'written', 'present', 'downloaded' or 'cached'."""

    path: Path
    status: str


def flattened_config_text(entry: ModelEntry) -> str:
    """The entry's config with every ``_base_`` merged in, as self-contained Python."""
    from minim.config import load_config

    if not entry.config_path.is_file():
        raise ConfigError(f"{entry.index_file}: model {entry.name!r}: config file {entry.config_path} does not exist")
    return load_config(entry.config_path, confine_to=entry.index_file.parent).dump()


def write_config(entry: ModelEntry, dest: Path, overwrite: bool = False) -> FileOutcome:
    """Write ``dest/<name>.py``. An identical existing file counts as present; a different one is an error
    unless ``overwrite`` replaces it. A weights-only entry writes nothing (status 'no config')."""
    if entry.config is None:
        return FileOutcome(dest / f"{entry.name}.py", "no config")
    text = flattened_config_text(entry)
    target = dest / f"{entry.name}.py"
    if target.exists() and not overwrite:
        if target.read_text(encoding="utf-8", errors="replace") == text:
            return FileOutcome(target, "present")
        raise MinimError(f"{target} exists and differs from the index config; pass --overwrite to replace it")
    write_text_atomic(target, text)
    return FileOutcome(target, "written")


def download_weights(entry: ModelEntry, dest: Path, *, overwrite: bool = False, progress: str = "auto",
                     mirror=None) -> FileOutcome | None:
    """Download the entry's weights into ``dest`` (None when the entry has none)."""
    if entry.weights is None:
        return None
    from minim.net.download import download

    result = download(entry.weights.url, dest, sha256=entry.weights.sha256, size=entry.weights.size,
                      overwrite=overwrite, progress=progress, mirror=mirror)
    return FileOutcome(Path(result.path), result.status)


def download_models(entries: list[ModelEntry], dest: Path, *, weights: bool = True, overwrite: bool = False,
                    progress: str = "auto", mirror=None,
                    report: Callable[[ModelEntry, FileOutcome], None] = lambda e, o: None) -> list[FileOutcome]:
    """Download each entry's config (and weights unless ``weights`` is False) into ``dest``."""
    if weights:
        mirror = _check_download_settings(entries, mirror)  # bad settings fail before anything is written
    outcomes = []
    for entry in entries:
        outcome = write_config(entry, dest, overwrite=overwrite)
        report(entry, outcome)
        outcomes.append(outcome)
        if weights:
            try:
                weights_outcome = download_weights(entry, dest, overwrite=overwrite, progress=progress, mirror=mirror)
            except DownloadError as exc:
                raise _kept_config_error(exc, outcome) from exc
            if weights_outcome is not None:
                report(entry, weights_outcome)
                outcomes.append(weights_outcome)
    return outcomes


def _check_download_settings(entries: list[ModelEntry], mirror):
    """The mirror map, after checking MINIM_TIMEOUT, MINIM_OFFLINE, the mirror spec and each weights URL."""
    from minim.net.mirror import resolve_mirrors
    from minim.net.names import filename_from_url
    from minim.net.session import timeout_from_env
    from minim.settings import offline

    timeout_from_env()
    offline()
    mirror = resolve_mirrors(mirror)
    for entry in entries:
        if entry.weights is not None:
            filename_from_url(mirror.apply(entry.weights.url))
    return mirror


def _kept_config_error(exc: DownloadError, config: FileOutcome) -> DownloadError:
    """``exc`` with a hint that the config is in place and how to go on."""
    kept = f"{config.path} is kept" if config.status in ("written", "present") else "no config was written"
    hint = f"{exc.hint}; " if exc.hint else ""
    return type(exc)(exc.message, hint=f"{hint}{kept}; run the command again to resume the weights, or pass "
                                        "--no-weights to skip them")
