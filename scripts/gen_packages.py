#!/usr/bin/env python
"""Regenerate model_index/packages.json: the torch / torchvision / torchaudio compatibility facts.

Where each fact comes from (also written into the file's "sources" section):

* release lists, Python versions (the ``cpXY`` tags of the wheels) and ``Requires-Python``:
  PyPI's JSON API, ``https://pypi.org/pypi/<name>/json``;
* which torch a torchvision/torchaudio release is built for: the ``Requires-Dist: torch...`` pin
  in the METADATA of one of its wheels. PyPI's per-version JSON and PEP 658 ``.metadata`` files
  are not served here, so the METADATA member is read out of the wheel on files.pythonhosted.org
  with HTTP range requests (the zip's central directory and one member, a few KiB per wheel);
* the CUDA build of the plain PyPI torch wheel for Linux: the nvidia runtime / cuda-toolkit pin in
  that wheel's METADATA (``nvidia-cuda-runtime-cu12==12.4.127`` -> cu124);
* the torch <-> torchvision <-> Python table published in torchvision's README (the PyPI project
  description), used as a cross-check of the pins;
* compute variants (wheel indexes on download.pytorch.org) per torch series: transcribed by hand
  from https://pytorch.org/get-started/previous-versions/ and, for 2.10, the PyTorch 2.10 wheel
  variants announcement; download.pytorch.org itself cannot be reached from the machine that
  generates this file, so later series list only ``cpu`` and the PyPI default build and are marked
  ``"variants_complete": false``;
* minimum NVIDIA drivers per CUDA major version: the CUDA toolkit release notes (table 2/3).

Usage: ``python scripts/gen_packages.py [--output model_index/packages.json] [--cache FILE]``.
The cache keeps METADATA already read (keyed by wheel file name) so a rerun only reads new wheels.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import json
import os
import re
import sys
import zipfile
from pathlib import Path

import requests
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minim.atomic import write_text_atomic  # noqa: E402
from minim.env.torch_build import detect_build  # noqa: E402

PYPI_JSON = "https://pypi.org/pypi/{name}/json"
FILES_HOST = "https://files.pythonhosted.org/"
VARIANT_INDEX = "https://download.pytorch.org/whl/{variant}"
MINIMUM = {"torch": "1.8.0", "torchvision": "0.9.0", "torchaudio": "0.8.0"}

#: compute variants per torch series, from https://pytorch.org/get-started/previous-versions/
#: (Linux pip commands) and the 2.10 wheel-variants announcement on dev-discuss.pytorch.org.
VARIANTS_BY_SERIES = {
    "1.8": ["cpu", "cu101", "cu102", "cu111", "rocm4.0.1"],
    "1.9": ["cpu", "cu102", "cu111", "rocm4.2"],
    "1.10": ["cpu", "cu102", "cu111", "cu113", "rocm4.2"],
    "1.11": ["cpu", "cu102", "cu113", "cu115", "rocm4.5.2"],
    "1.12": ["cpu", "cu102", "cu113", "cu116", "rocm5.1.1"],
    "1.13": ["cpu", "cu116", "cu117", "rocm5.2"],
    "2.0": ["cpu", "cu117", "cu118", "rocm5.4.2"],
    "2.1": ["cpu", "cu118", "cu121", "rocm5.6"],
    "2.2": ["cpu", "cu118", "cu121", "rocm5.7"],
    "2.3": ["cpu", "cu118", "cu121", "rocm6.0"],
    "2.4": ["cpu", "cu118", "cu121", "cu124", "rocm6.1"],
    "2.5": ["cpu", "cu118", "cu121", "cu124", "rocm6.1", "rocm6.2"],
    "2.6": ["cpu", "cu118", "cu124", "cu126", "rocm6.1", "rocm6.2.4", "xpu"],
    "2.7": ["cpu", "cu118", "cu126", "cu128", "rocm6.2.4", "rocm6.3", "xpu"],
    "2.8": ["cpu", "cu126", "cu128", "cu129", "rocm6.3", "rocm6.4", "xpu"],
    "2.9": ["cpu", "cu126", "cu128", "cu130", "rocm6.3", "rocm6.4", "xpu"],
    "2.10": ["cpu", "cu126", "cu128", "cu130", "rocm7.0", "rocm7.1", "xpu"],
}

#: minimum driver per CUDA major version (CUDA toolkit release notes, "CUDA Toolkit and
#: Minimum Required Driver Version for CUDA Minor Version Compatibility")
CUDA_MIN_DRIVER = {
    "11": {"linux": "450.80.02", "windows": "452.39"},
    "12": {"linux": "525.60.13", "windows": "528.33"},
    "13": {"linux": "580.65.06", "windows": "580.88"},
}

#: compiled packages minim installs from binary wheels only (unless --allow-build)
BACKENDS = {
    "torch": {"family": "torch"},
    "torchvision": {"family": "torch"},
    "torchaudio": {"family": "torch"},
    "mmcv-full": {
        "find_links": "https://download.openmmlab.com/mmcv/dist/{variant}/torch{torch_series}.0/index.html",
        "needs_torch": True,
    },
    "mmcv": {
        "find_links": "https://download.openmmlab.com/mmcv/dist/{variant}/torch{torch_series}.0/index.html",
        "needs_torch": True,
    },
}

#: distributions that ship the same import package, and which one to keep when both are installed
IMPORT_CONFLICTS = [
    {
        "import": "mmcv",
        "distributions": ["mmcv-full", "mmcv", "mmcv-lite"],
        "prefer": [],
        "why": "mmcv-full 1.x and mmcv (2.x, or 1.x lite) overwrite each other's mmcv/ files; which one is "
        "right depends on the codebase, so the one other installed packages require is kept",
    },
    {
        "import": "cv2",
        "distributions": [
            "opencv-python",
            "opencv-python-headless",
            "opencv-contrib-python",
            "opencv-contrib-python-headless",
        ],
        "prefer": ["opencv-contrib-python-headless", "opencv-python-headless",
                   "opencv-contrib-python", "opencv-python"],
        "prefer_with_display": ["opencv-contrib-python", "opencv-python",
                                "opencv-contrib-python-headless", "opencv-python-headless"],
        "why": "all four ship cv2/; on a server (no DISPLAY) the headless build avoids the libGL/GUI "
        "dependencies that make 'import cv2' fail, and contrib is a superset of the plain build",
    },
]


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a remote file that fetches byte ranges on demand."""

    def __init__(self, url: str, session: requests.Session):
        super().__init__()
        self.url, self.session, self.position = url, session, 0
        response = session.head(url, allow_redirects=True, timeout=30)
        response.raise_for_status()
        self.size = int(response.headers["content-length"])

    def readable(self):
        return True

    def seekable(self):
        return True

    def tell(self):
        return self.position

    def seek(self, offset, whence=io.SEEK_SET):
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def read(self, size=-1):
        end = self.size if size is None or size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        response = self.session.get(self.url, headers={"Range": f"bytes={self.position}-{end - 1}"}, timeout=60)
        response.raise_for_status()
        data = response.content[: end - self.position]
        self.position += len(data)
        return data


def wheel_members(url: str, session: requests.Session, wanted: tuple[str, ...]) -> dict[str, str | None]:
    """The text of the METADATA and of the ``wanted`` members inside the wheel at ``url``.

    Read with range requests: the zip's central directory, then only those members.
    """
    with zipfile.ZipFile(RangeFile(url, session)) as archive:
        names = archive.namelist()
        found = {"METADATA": next(n for n in names if n.endswith(".dist-info/METADATA"))}
        found.update({w: (w if w in names else None) for w in wanted})
        return {key: archive.read(name).decode("utf-8", "replace") if name else None for key, name in found.items()}


def metadata_fields(text: str) -> dict:
    requires = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("Requires-Dist:")]
    python = next((line.split(":", 1)[1].strip() for line in text.splitlines()
                   if line.startswith("Requires-Python:")), None)
    return {"requires_dist": requires, "requires_python": python}


def absolute_file_url(url: str) -> str:
    return FILES_HOST + url.split("packages/", 1)[1] if not url.startswith("http") else url


def representative_wheel(files: list[dict]) -> dict | None:
    """A Linux x86_64 CPython wheel when there is one (its METADATA is what Linux users get)."""
    wheels = [f for f in files if f["filename"].endswith(".whl")]

    def rank(f):
        name = f["filename"]
        return ("x86_64" in name and "linux" in name, "-cp311-" in name, "-cp312-" in name)

    return max(wheels, key=rank) if wheels else None


def python_versions(files: list[dict]) -> list[str]:
    found = set()
    for f in files:
        if not f["filename"].endswith(".whl"):
            continue
        for tag in f["filename"][:-4].split("-")[-3].split("."):
            match = re.fullmatch(r"cp3(\d+)", tag)
            if match:
                found.add(f"3.{match.group(1)}")
    return sorted(found, key=lambda v: int(v.split(".")[1]))


def series(version: str) -> str:
    v = Version(version)
    return f"{v.major}.{v.minor}"


def torch_pin(requires: list[str]) -> str | None:
    for text in requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.name.lower() == "torch" and not requirement.marker:
            return str(requirement.specifier) or None
    return None


def paired_series(pin: str | None) -> str | None:
    """The torch series a pin names: '==2.5.1' -> '2.5', '>=2.14.0' -> '2.14'."""
    if not pin:
        return None
    match = re.search(r"(?:==|>=|~=)\s*(\d+)\.(\d+)", pin)
    return f"{match.group(1)}.{match.group(2)}" if match else None


def readme_table(description: str) -> dict[str, dict]:
    """torch series -> {'torchvision': '0.28', 'python': '>=3.10, <=3.14'} from torchvision's README."""
    table = {}
    for line in description.splitlines():
        cells = [c.strip().strip("`").strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not re.fullmatch(r"\d+\.\d+", cells[0]):
            continue
        table[cells[0]] = {"torchvision": cells[1], "python": cells[2].replace("`", "").replace(" ", "")}
    return table


class Generator:
    def __init__(self, cache_path: Path | None):
        self.session = requests.Session()
        self.cache_path = cache_path
        self.cache = {}
        if cache_path and cache_path.is_file():
            self.cache = json.loads(cache_path.read_text())

    def project(self, name: str) -> dict:
        response = self.session.get(PYPI_JSON.format(name=name), timeout=60)
        response.raise_for_status()
        return response.json()

    def metadata(self, file: dict, version_py: bool = False) -> dict:
        key = file["filename"]
        if key not in self.cache or (version_py and "version_py" not in self.cache[key]):
            print(f"  reading METADATA of {key}", file=sys.stderr)
            wanted = ("torch/version.py",) if version_py else ()
            members = wheel_members(absolute_file_url(file["url"]), self.session, wanted)
            self.cache[key] = metadata_fields(members["METADATA"])
            if version_py:
                self.cache[key]["version_py"] = members["torch/version.py"]
            self.save_cache()
        return self.cache[key]

    def save_cache(self):
        if self.cache_path:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            self.cache_path.write_text(json.dumps(self.cache, indent=1, sort_keys=True))

    def releases(self, name: str, data: dict) -> dict[str, dict]:
        out = {}
        minimum = Version(MINIMUM[name])
        for version, files in data["releases"].items():
            try:
                parsed = Version(version)
            except InvalidVersion:
                continue
            if parsed < minimum or parsed.is_prerelease or not files or all(f.get("yanked") for f in files):
                continue
            wheel = representative_wheel(files)
            if wheel is None:
                continue
            fields = self.metadata(wheel, version_py=name == "torch")
            entry = {
                "python": python_versions(files) or None,
                "requires_python": fields["requires_python"] or wheel.get("requires_python"),
                "metadata_from": wheel["filename"],
            }
            if name == "torch":
                build = detect_build(version, fields["requires_dist"], fields.get("version_py"), "Linux")
                entry["pypi_linux_build"] = build.variant
            else:
                pin, pin_from = torch_pin(fields["requires_dist"]), "wheel METADATA"
                if pin is None and version == data["info"]["version"]:
                    pin, pin_from = torch_pin(data["info"].get("requires_dist") or []), "PyPI project info"
                entry["requires_torch"] = pin
                entry["torch_series"] = paired_series(pin)
                if entry["torch_series"] is None and name == "torchaudio" and parsed.major >= 2:
                    entry["torch_series"], pin_from = series(version), "version convention (torchaudio 2.N <-> torch 2.N)"
                entry["pin_from"] = pin_from
            out[version] = entry
        return dict(sorted(out.items(), key=lambda item: Version(item[0])))


def build_series(torch: dict, vision: dict, audio: dict, readme: dict) -> dict[str, dict]:
    result: dict[str, dict] = {}
    for version, entry in torch.items():
        s = series(version)
        item = result.setdefault(s, {"torchvision": None, "torchaudio": None, "python": None})
        item["python"] = readme.get(s, {}).get("python") or item["python"]
        default = entry.get("pypi_linux_build")
        known = VARIANTS_BY_SERIES.get(s)
        variants = set(known or ["cpu"])
        if default:
            variants.add(default)
        item["variants"] = sorted(variants, key=_variant_order)
        item["variants_complete"] = known is not None
    for releases, key in ((vision, "torchvision"), (audio, "torchaudio")):
        for version, entry in releases.items():
            s = entry.get("torch_series")
            if s in result:
                result[s][key] = series(version)
    return dict(sorted(result.items(), key=lambda item: Version(item[0])))


def _variant_order(name: str):
    if name == "cpu":
        return (0, 0.0)
    if name.startswith("cu"):
        return (1, float(name[2:]))
    if name.startswith("rocm"):
        return (2, float(".".join(name[4:].split(".")[:2])))
    return (3, 0.0)


def variants_table(series_table: dict) -> dict[str, dict]:
    names = sorted({v for item in series_table.values() for v in item["variants"]}, key=_variant_order)
    table = {}
    for name in names:
        entry = {"url": VARIANT_INDEX.format(variant=name)}
        if name.startswith("cu"):
            digits = name[2:]
            entry.update(kind="cuda", cuda=f"{digits[:-1]}.{digits[-1]}")
        elif name.startswith("rocm"):
            entry.update(kind="rocm", rocm=name[4:])
        else:
            entry.update(kind=name)
        table[name] = entry
    return table


SOURCES = {
    "releases": "PyPI JSON API https://pypi.org/pypi/<name>/json: non-yanked final releases, their wheel "
    "file names (python = the cpXY tags) and Requires-Python",
    "requires_torch": "the Requires-Dist: torch pin in the METADATA of the wheel named in 'metadata_from', "
    "read from files.pythonhosted.org with HTTP range requests ('pin_from' says when the PyPI project info "
    "or the torchaudio version convention had to stand in for a wheel that pins nothing)",
    "pypi_linux_build": "torch/version.py (cuda = 'X.Y') inside torch's Linux x86_64 wheel on PyPI, read with "
    "HTTP range requests; falls back to the nvidia-cuda-runtime / cuda-toolkit pin in its METADATA",
    "series.torchvision / series.torchaudio": "derived from requires_torch (==X.Y.Z or >=X.Y.0 names "
    "torch series X.Y)",
    "series.python": "torchvision README compatibility table (PyPI project description of torchvision)",
    "series.variants": "https://pytorch.org/get-started/previous-versions/ (Linux pip commands), transcribed "
    "by hand, plus https://dev-discuss.pytorch.org/t/wheel-variants-for-pytorch-release-2-10-published/3305 "
    "for 2.10; later series: cpu and the PyPI default build only (variants_complete false), because "
    "download.pytorch.org could not be reached when this file was generated",
    "variants.url": "https://download.pytorch.org/whl/<variant> (PyTorch's documented pip --index-url)",
    "cuda_min_driver": "CUDA toolkit release notes, minimum driver for minor-version compatibility "
    "(https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/)",
    "backends.find_links": "mim 0.3.9's find-link for mmcv wheels (download.openmmlab.com/mmcv/dist/"
    "<cuXY|cpu>/torch<X.Y>.0/index.html), see shared/reference/mim-0.3.9-observed.md",
    "import_conflicts": "mmcv #1226 / mmrotate #6 (mmcv next to mmcv-full) and opencv-python's README "
    "(install only one of the four opencv packages)",
}


def generate(cache: Path | None) -> dict:
    gen = Generator(cache)
    projects = {name: gen.project(name) for name in ("torch", "torchvision", "torchaudio")}
    torch = gen.releases("torch", projects["torch"])
    vision = gen.releases("torchvision", projects["torchvision"])
    audio = gen.releases("torchaudio", projects["torchaudio"])
    readme = readme_table(projects["torchvision"]["info"].get("description") or "")
    series_table = build_series(torch, vision, audio, readme)
    return {
        "schema": 1,
        "generated": _dt.date.today().isoformat(),
        "generator": "scripts/gen_packages.py",
        "sources": SOURCES,
        "default_index": "https://pypi.org/simple",
        "variants": variants_table(series_table),
        "cuda_min_driver": CUDA_MIN_DRIVER,
        "series": series_table,
        "readme_table": readme,
        "releases": {"torch": torch, "torchvision": vision, "torchaudio": audio},
        "backends": BACKENDS,
        "import_conflicts": IMPORT_CONFLICTS,
    }


#: sections written by hand (OpenMMLab's packages and mmcv's build recipes): kept from the existing file
HAND_WRITTEN = ("openmmlab",)


def carry_hand_written(data: dict, previous: Path) -> None:
    """Copy the :data:`HAND_WRITTEN` sections (and their "sources" entries) from the file being replaced."""
    try:
        old = json.loads(previous.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    for key in HAND_WRITTEN:
        if key in old:
            data[key] = old[key]
            if key in old.get("sources", {}):
                data["sources"][key] = old["sources"][key]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=ROOT / "model_index" / "packages.json")
    default_cache = Path(os.environ.get("MINIM_HOME", Path.home() / ".cache" / "minim")) / "gen_packages-cache.json"
    parser.add_argument("--cache", type=Path, default=default_cache,
                        help="METADATA cache (keyed by wheel file name); default %(default)s")
    args = parser.parse_args(argv)
    data = generate(args.cache)
    carry_hand_written(data, args.output)
    write_text_atomic(args.output, json.dumps(data, indent=1) + "\n")
    print(f"wrote {args.output}: {sum(len(r) for r in data['releases'].values())} releases, "
          f"{len(data['series'])} torch series", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
