"""OpenMMLab requirements: what a package asks of mmcv and mmengine through its ``mim`` extra or ``mminstall.txt``.

OpenMMLab packages leave mmcv out of their install requirements, so pip alone never installs it:
mmcls 0.25 declares ``mmcv-full<1.9.0,>=1.4.2; extra == "mim"``, and packages without that extra ship
``requirements/mminstall.txt`` in their sdist only. Like mim, minim reads both: the extra from the
metadata pip's dry run reports (or the installed METADATA), the file from the release's sdist on the
index (the requirements read are cached under ``MINIM_HOME/openmmlab/mminstall``).
"""

from __future__ import annotations

import json
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from minim.packages.compat import CompatData

MIM_EXTRA = "mim"
MMINSTALL = "requirements/mminstall.txt"
#: the ``via`` of an mmcv requirement named on the command line (``minim install mmcv==1.7.2``)
REQUESTED = "requested"


@dataclass(frozen=True)
class MmRequirement:
    """A requirement an OpenMMLab package declares outside its install requirements."""

    requirement: str
    wanted_by: str
    wanted_by_version: str
    #: "its mim extra", "mminstall.txt in its sdist" or :data:`REQUESTED`
    via: str

    @property
    def key(self) -> str:
        return canonicalize_name(Requirement(self.requirement).name)

    @property
    def requested(self) -> bool:
        return self.via == REQUESTED

    def describe(self) -> str:
        if self.requested:
            return f"{self.requirement} ({REQUESTED})"
        return f"{self.requirement} for {self.wanted_by} {self.wanted_by_version} ({self.via})"


def requested(text: str) -> MmRequirement:
    """An mmcv requirement the user named: resolved like the ones OpenMMLab packages declare."""
    return MmRequirement(text, "", "", REQUESTED)


def _marker_needs_extra(marker: Marker, markers: dict) -> bool:
    """Whether ``marker`` holds with the ``mim`` extra and not without it."""
    try:
        return marker.evaluate(dict(markers, extra=MIM_EXTRA)) and not marker.evaluate(dict(markers, extra=""))
    except Exception:  # an unknown marker variable: pip would not install it either
        return False


def mim_extra(requires_dist: list[str], markers: dict) -> list[str] | None:
    """The requirements only the ``mim`` extra adds (markers removed); None when there is no such extra."""
    found, mentioned = [], False
    for text in requires_dist or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is None or MIM_EXTRA not in str(requirement.marker):
            continue
        mentioned = True
        if _marker_needs_extra(requirement.marker, markers):
            requirement.marker = None
            found.append(str(requirement))
    return found if mentioned else None


def parse_mminstall(text: str) -> list[str]:
    """The requirement lines of an ``mminstall.txt`` (comments, options and bad lines skipped)."""
    found = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        try:
            found.append(str(Requirement(line)))
        except InvalidRequirement:
            continue
    return found


def read_mminstall(sdist: Path) -> list[str]:
    """The ``requirements/mminstall.txt`` inside an sdist (``[]`` when it has none)."""
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as archive:
            names = [n for n in archive.namelist() if n.endswith("/" + MMINSTALL) and n.count("/") == 2]
            return parse_mminstall(archive.read(names[0]).decode("utf-8", "replace")) if names else []
    with tarfile.open(sdist) as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.endswith("/" + MMINSTALL) and member.name.count("/") == 2:
                handle = archive.extractfile(member)
                return parse_mminstall(handle.read().decode("utf-8", "replace")) if handle else []
    return []


def _cache_file(name: str, version: str) -> Path:
    from minim.settings import minim_home

    return minim_home() / "openmmlab" / "mminstall" / f"{canonicalize_name(name)}-{version}.json"


def mminstall_of(name: str, version: str, indexes: list[str]) -> list[str] | None:
    """The ``mminstall.txt`` requirements of release ``name==version`` read from its sdist on ``indexes``
    (cached); None when no index has its sdist."""
    from minim.atomic import write_text_atomic
    from minim.packages.pages import download, project_files
    from minim.settings import minim_home

    cache = _cache_file(name, version)
    if cache.is_file():
        try:
            return json.loads(cache.read_text())
        except ValueError:
            pass
    sdists = [f for f in project_files(indexes, name) if f.kind == "sdist" and str(f.version) == version]
    if not sdists:
        return None
    path = download(sdists[0], minim_home() / "openmmlab" / "sdists")
    found = read_mminstall(path)
    try:
        write_text_atomic(cache, json.dumps(found))
    except OSError:
        pass
    return found


def requirements_of(name: str, version: str, requires_dist: list[str], markers: dict, compat: CompatData,
                    indexes: list[str], notes: list[str]) -> list[MmRequirement]:
    """What package ``name==version`` asks of OpenMMLab's packages: its ``mim`` extra, else (for a package
    packages.json lists as OpenMMLab's) the ``mminstall.txt`` of its sdist."""
    extra = mim_extra(requires_dist, markers)
    if extra is not None:
        return [MmRequirement(r, name, version, "its mim extra") for r in extra]
    if not compat.is_openmmlab(name):
        return []
    found = mminstall_of(name, version, indexes)
    if found is None:
        notes.append(f"{name} {version}: no sdist on {', '.join(indexes)}, so its requirements/mminstall.txt "
                     f"(mmcv, mmengine) could not be read")
        return []
    return [MmRequirement(r, name, version, "mminstall.txt in its sdist") for r in found]


def installed_requirements(env, compat: CompatData) -> list[MmRequirement]:
    """The OpenMMLab requirements of every installed package, from its METADATA or the cached ``mminstall.txt``
    (doctor never goes to the network)."""
    found = []
    for dist in env.dists.values():
        extra = mim_extra(dist.requires, env.markers)
        if extra is not None:
            found += [MmRequirement(r, dist.name, dist.version, "its mim extra") for r in extra]
        elif compat.is_openmmlab(dist.name) and _cache_file(dist.name, dist.version).is_file():
            try:
                cached = json.loads(_cache_file(dist.name, dist.version).read_text())
            except ValueError:
                continue
            found += [MmRequirement(r, dist.name, dist.version, "mminstall.txt in its sdist") for r in cached]
    return found
