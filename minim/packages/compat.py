"""Read model_index/packages.json: which torch, torchvision and torchaudio releases belong together.

A torchvision (or torchaudio) release pairs with a torch version when both hold:

* the torch version is in the release's torch *series* (torchvision 0.29.x is built for torch
  2.14.x): compiled operators only load into the torch minor release they were built against,
  even where the wheel's own pin (``torch>=2.14.0``) would let pip accept a newer torch;
* the torch version satisfies the release's ``Requires-Dist: torch`` pin (``==2.5.1``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.errors import PackageError, UsageError
from minim.suggest import close_matches

COMPANIONS = ("torchvision", "torchaudio")


@dataclass(frozen=True)
class Variant:
    """A compute variant of the PyTorch wheels and the index that serves it."""

    name: str
    kind: str
    url: str
    cuda: str | None = None
    rocm: str | None = None


def parse_version(text: str) -> Version | None:
    try:
        return Version(text)
    except (InvalidVersion, TypeError):
        return None


def public(version: str) -> Version | None:
    """``2.5.1+cu121`` -> ``Version('2.5.1')``."""
    parsed = parse_version(version)
    return parse_version(parsed.public) if parsed else None


def series_of(version: str) -> str | None:
    """``'2.5.1+cu121'`` -> ``'2.5'``."""
    parsed = parse_version(version)
    return f"{parsed.major}.{parsed.minor}" if parsed else None


class CompatData:
    """The facts of packages.json with the questions install and doctor ask of them."""

    def __init__(self, data: dict, path: Path | None = None):
        self.path = path
        self.raw = data
        self.default_index: str = data.get("default_index", "https://pypi.org/simple")
        self.variants = {name: Variant(name=name, kind=v.get("kind", "cpu"), url=v["url"], cuda=v.get("cuda"),
                                       rocm=v.get("rocm"))
                         for name, v in data.get("variants", {}).items()}
        self.series: dict[str, dict] = data.get("series", {})
        self.releases: dict[str, dict[str, dict]] = data.get("releases", {})
        self.backends: dict[str, dict] = {canonicalize_name(k): v for k, v in data.get("backends", {}).items()}
        self.import_conflicts: list[dict] = data.get("import_conflicts", [])
        self.cuda_min_driver: dict[str, dict] = data.get("cuda_min_driver", {})
        openmmlab = data.get("openmmlab", {})
        self.openmmlab: dict[str, dict] = {canonicalize_name(k): v for k, v in openmmlab.get("packages", {}).items()}
        self.mmcv: dict = openmmlab.get("mmcv", {})

    # -- variants -----------------------------------------------------------------------------

    def variant(self, name: str) -> Variant:
        """The variant called ``name``; unknown names raise UsageError with a did-you-mean."""
        if name in self.variants:
            return self.variants[name]
        close = close_matches(name, self.variants, n=3, cutoff=0.5)
        hint = ("did you mean " + " or ".join(repr(c) for c in close) + "?") if close else None
        raise UsageError(f"unknown compute variant {name!r}; known: auto, {', '.join(self.variants)}", hint=hint)

    def variants_for(self, torch_version: str) -> tuple[list[str], bool]:
        """``(variant names, complete)`` offered for the series of ``torch_version``; ([], False) if unknown."""
        info = self.series.get(series_of(torch_version) or "")
        if not info:
            return [], False
        return list(info.get("variants", [])), bool(info.get("variants_complete"))

    def pypi_build(self, torch_version: str) -> str | None:
        """The variant of the plain PyPI Linux wheel of ``torch_version`` (e.g. 'cu124')."""
        entry = self.release("torch", torch_version)
        return entry.get("pypi_linux_build") if entry else None

    def min_driver(self, cuda_version: str, system: str) -> str | None:
        """The oldest NVIDIA driver that runs CUDA ``cuda_version`` builds on ``system`` (Linux/Windows)."""
        major = cuda_version.split(".")[0]
        table = self.cuda_min_driver.get(major, {})
        return table.get("windows" if system == "Windows" else "linux")

    # -- releases -----------------------------------------------------------------------------

    def release(self, package: str, version: str) -> dict | None:
        """The facts about one release (local tag ignored), or None when packages.json does not know it."""
        versions = self.releases.get(canonicalize_name(package), {})
        wanted = public(version)
        if wanted is None:
            return None
        for text, entry in versions.items():
            if parse_version(text) == wanted:
                return entry
        return None

    def versions(self, package: str) -> list[str]:
        """Known releases of ``package``, newest first."""
        versions = self.releases.get(canonicalize_name(package), {})
        return sorted(versions, key=lambda v: Version(v), reverse=True)

    def knows_torch(self, torch_version: str) -> bool:
        return series_of(torch_version) in self.series

    def pairs(self, package: str, version: str, torch_version: str) -> bool | None:
        """Whether ``package==version`` pairs with torch ``torch_version``; None when the data cannot tell."""
        entry = self.release(package, version)
        torch = public(torch_version)
        if entry is None or torch is None or not self.knows_torch(torch_version):
            return None
        if entry.get("torch_series") != series_of(torch_version):
            return False
        pin = entry.get("requires_torch")
        if pin:
            try:
                return SpecifierSet(pin).contains(torch, prereleases=True)
            except InvalidSpecifier:
                return None
        return True

    def companions_for(self, package: str, torch_version: str, python_version: str | None = None) -> list[str]:
        """Releases of ``package`` (torchvision/torchaudio) that pair with ``torch_version``, newest first."""
        return [v for v in self.versions(package)
                if self.pairs(package, v, torch_version) and self.supports_python(package, v, python_version)]

    def pairing_specifier(self, package: str, torch_version: str, python_version: str | None = None,
                          within: SpecifierSet | None = None) -> str | None:
        """``>=0.29.1,<0.30`` (plus ``!=`` for known releases in between that do not pair, and ``within``):
        the releases of ``package`` that pair with ``torch_version``, including patch releases newer than
        this data; None when none is known."""
        fitting = [v for v in self.companions_for(package, torch_version, python_version)
                   if within is None or within.contains(Version(v), prereleases=True)]
        if not fitting:
            return None
        low = min(Version(v) for v in fitting)
        upper = Version(f"{low.major}.{low.minor + 1}")
        skipped = [v for v in self.versions(package) if low <= Version(v) < upper and v not in fitting]
        parts = [f">={low}", f"<{upper}", *(f"!={v}" for v in skipped)]
        parts += sorted(str(s) for s in within or () if str(s) not in parts)
        return ",".join(parts)

    def torch_for(self, package: str, version: str) -> list[str]:
        """torch releases that ``package==version`` pairs with, newest first."""
        return [t for t in self.versions("torch") if self.pairs(package, version, t)]

    def companion_series(self, package: str, torch_version: str) -> str | None:
        """The series of ``package`` built for the series of ``torch_version`` ('0.29'), or None."""
        info = self.series.get(series_of(torch_version) or "")
        return info.get(package) if info else None

    def supports_python(self, package: str, version: str, python_version: str | None) -> bool:
        """Whether ``package==version`` has wheels for Python ``python_version`` (True when unknown)."""
        if not python_version:
            return True
        entry = self.release(package, version)
        if entry is None:
            return True
        short = ".".join(python_version.split(".")[:2])
        if entry.get("python"):
            return short in entry["python"]
        required = entry.get("requires_python")
        if required:
            try:
                return SpecifierSet(required).contains(Version(python_version), prereleases=True)
            except (InvalidSpecifier, InvalidVersion):
                return True
        return True

    def newest_torch(self, specifier: SpecifierSet | None = None, python_version: str | None = None,
                     variant: str | None = None, companions: tuple[str, ...] = ()) -> str | None:
        """The newest known torch release matching ``specifier``, ``python_version`` and ``variant``
        that has a release of each of ``companions`` (torchvision, torchaudio) paired with it."""
        for version in self.versions("torch"):
            if any(not self.companions_for(name, version, python_version) for name in companions):
                continue
            if specifier is not None and not specifier.contains(Version(version), prereleases=False):
                continue
            if not self.supports_python("torch", version, python_version):
                continue
            if variant is not None:
                offered, complete = self.variants_for(version)
                if complete and variant not in offered:
                    continue
            return version
        return None

    # -- backends -----------------------------------------------------------------------------

    def is_backend(self, name: str) -> bool:
        """Whether ``name`` is a compiled backend minim installs from binary wheels only."""
        return canonicalize_name(name) in self.backends

    def backend_names(self) -> list[str]:
        return sorted(self.backends)


    # -- OpenMMLab -----------------------------------------------------------------------------

    def is_openmmlab(self, name: str) -> bool:
        """Whether packages.json lists ``name`` as an OpenMMLab codebase (mmcv itself aside)."""
        return canonicalize_name(name) in self.openmmlab

    def needs_ops(self, name: str) -> bool:
        """Whether ``name`` needs mmcv's compiled operators (True unless packages.json says it works without)."""
        return self.openmmlab.get(canonicalize_name(name), {}).get("needs_ops", True) is not False

    def mmcv_names(self) -> list[str]:
        """The distributions that ship the ``mmcv`` import package (mmcv-full, mmcv, mmcv-lite)."""
        return [canonicalize_name(n) for n in self.mmcv.get("distributions", [])]

    def mmcv_recipe(self, series: str) -> dict:
        """How mmcv ``series`` ('1', '2') is installed with and without ops (packages.json ``openmmlab.mmcv``)."""
        return self.mmcv.get("series", {}).get(series, {})


def default_path() -> Path:
    """packages.json of the installed model index (``MINIM_PACKAGES_FILE`` overrides it)."""
    override = os.environ.get("MINIM_PACKAGES_FILE")
    if override:
        return Path(override).expanduser()
    from minim.resources import model_index_dir

    return model_index_dir() / "packages.json"


@lru_cache(maxsize=8)
def _load(path: str, mtime: float) -> CompatData:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackageError(f"cannot read compatibility data {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise PackageError(f"{path}: not valid JSON ({exc})",
                           hint="regenerate it with scripts/gen_packages.py") from exc
    if not isinstance(data, dict) or "series" not in data or "releases" not in data:
        raise PackageError(f"{path}: not a packages.json (no 'series'/'releases')")
    return CompatData(data, Path(path))


def load_compat(path: str | os.PathLike | None = None) -> CompatData:
    """The compatibility data (cached per file and modification time)."""
    target = Path(path) if path is not None else default_path()
    try:
        mtime = target.stat().st_mtime
    except OSError as exc:
        raise PackageError(f"cannot read compatibility data {target}: {exc.strerror or exc}") from exc
    return _load(str(target), mtime)
