"""Build a wheel from an sdist without build isolation, and keep it under ``MINIM_HOME/wheels`` for reuse.

mmcv 1.x cannot be built the way pip builds by default: its ``setup.py`` imports ``pkg_resources``
(gone from current setuptools), names the distribution by ``MMCV_WITH_OPS``, decides its OpenCV
requirement by whether ``cv2`` imports, and compiles its operators against the torch it can import.
So the build runs in the target interpreter with ``--no-build-isolation`` (torch and cv2 are seen),
with the setuptools the sdist needs put first on ``PYTHONPATH`` (installed once with
``pip install --target`` under ``MINIM_HOME/build-tools``; the environment's own setuptools is not
touched), and with the recipe's variables (``MMCV_WITH_OPS``, ``TORCH_CUDA_ARCH_LIST``).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

from minim.errors import PackageError
from minim.packages.pip import PipRunner

BUILD_TIMEOUT = 6 * 3600.0
TOOLS_TIMEOUT = 600.0


@dataclass
class BuildStep:
    """One wheel to build from an sdist before pip installs the plan."""

    #: the distribution the build makes ("mmcv" for mmcv 1.x without ops)
    dist: str
    version: str
    sdist_url: str
    #: whether the compiled operators are built
    ops: bool
    #: environment variables of the build (MMCV_WITH_OPS, TORCH_CUDA_ARCH_LIST, ...)
    env: dict = field(default_factory=dict)
    #: what the build needs importable (installed once under MINIM_HOME/build-tools)
    build_requires: list[str] = field(default_factory=list)
    #: the folder the wheel is cached in (also a --find-links of the install)
    cache_dir: str = ""
    #: a rough estimate of the build time in minutes (ops builds)
    estimate_minutes: float | None = None

    def cached_wheel(self) -> Path | None:
        """The wheel a previous build left in :attr:`cache_dir`, if any."""
        folder = Path(self.cache_dir)
        wheels = sorted(folder.glob("*.whl")) if folder.is_dir() else []
        return wheels[-1] if wheels else None

    def describe(self) -> str:
        kind = "with its compiled ops" if self.ops else "without compiled ops (lite)"
        estimate = f", roughly {self.estimate_minutes:.0f} min" if self.estimate_minutes else ""
        return f"{self.dist} {self.version} built here from its sdist {kind}{estimate}"

    def to_dict(self) -> dict:
        return dict(asdict(self), cached=str(self.cached_wheel()) if self.cached_wheel() else None)


def cache_dir(dist: str, version: str, flavour: str) -> Path:
    """Where the wheel of ``dist==version`` built as ``flavour`` (lite, ops-torch2.14.1+cpu-py3.11, ...) is kept."""
    from minim.settings import minim_home

    return minim_home() / "wheels" / f"{dist}-{version}-{flavour}"


def build_tools(python: str, python_version: str, requires: list[str], index_args: list[str],
                on_line: Callable[[str], None] | None) -> Path | None:
    """A folder holding ``requires`` (``pip install --target``), made once per Python version and list."""
    if not requires:
        return None
    from minim.settings import minim_home

    key = hashlib.sha256("\0".join([python_version, *requires]).encode()).hexdigest()[:16]
    folder = minim_home() / "build-tools" / key
    if (folder / ".complete").is_file():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    runner = PipRunner(python)
    # --no-warn-conflicts: pip compares the --target folder's setuptools with the environment's pins (torch's)
    result = runner.run(["install", *runner.bounded(), "--only-binary", ":all:", "--no-warn-conflicts", "--target",
                         str(folder), *index_args, *requires], on_line=on_line, timeout=TOOLS_TIMEOUT)
    if not result.ok:
        detail = " | ".join(line.removeprefix("ERROR: ") for line in result.error_lines()[:3])
        raise PackageError(f"could not install the build tools {', '.join(requires)}: {detail}")
    (folder / ".complete").write_text("\n".join(requires) + "\n")
    return folder


def build_wheel(step: BuildStep, python: str, python_version: str, index_args: list[str],
                on_line: Callable[[str], None] | None = None) -> Path:
    """The wheel of ``step``: the cached one, else built now (output streamed to ``on_line``) and cached."""
    cached = step.cached_wheel()
    if cached is not None:
        return cached
    from minim.packages.pages import download, parse_file
    from minim.settings import minim_home

    say = on_line or (lambda line: None)
    offered = parse_file(step.sdist_url)
    if offered is None:
        raise PackageError(f"not an sdist: {step.sdist_url}")
    sdist = download(offered, minim_home() / "sdists")
    tools = build_tools(python, python_version, step.build_requires, index_args, on_line)
    env = dict(os.environ, **step.env)
    if tools is not None:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(tools), os.environ.get("PYTHONPATH")) if p)
    say(f"building {step.describe()} ({', '.join(f'{k}={v}' for k, v in step.env.items())})")
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="minim-build-") as out:
        args = ["wheel", "--disable-pip-version-check", "--no-deps", "--no-build-isolation", "--no-index",
                "--wheel-dir", out, *(["-v"] if step.ops else []), str(sdist)]
        result = PipRunner(python, env=env).run(args, on_line=on_line, timeout=BUILD_TIMEOUT)
        wheels = sorted(Path(out).glob("*.whl"))
        if not result.ok or not wheels:
            detail = " | ".join(line.removeprefix("ERROR: ").strip() for line in result.error_lines()[-3:])
            raise PackageError(f"building {step.dist} {step.version} from {sdist.name} failed: {detail}",
                               hint="nothing was installed; the whole log is above")
        target = Path(step.cache_dir)
        target.mkdir(parents=True, exist_ok=True)
        built = target / wheels[0].name
        shutil.move(str(wheels[0]), built)
    say(f"built {built.name} in {time.monotonic() - start:.0f} s (cached in {target})")
    return built


def cached_wheel_dirs(name: str, specifier=None) -> list[str]:
    """Folders under ``MINIM_HOME/wheels`` holding a wheel minim built of ``name`` (in ``specifier``), so that
    reinstalling an mmcv minim built needs no second build (and works where no index has a wheel)."""
    from packaging.utils import canonicalize_name
    from packaging.version import InvalidVersion, Version

    from minim.settings import minim_home

    found = []
    root = minim_home() / "wheels"
    for folder in sorted(root.glob("*-*-*")) if root.is_dir() else []:
        for wheel in folder.glob("*.whl"):
            stem = wheel.name.split("-")
            try:
                version = Version(stem[1])
            except (InvalidVersion, IndexError):
                continue
            if canonicalize_name(stem[0]) == canonicalize_name(name) and (
                    specifier is None or specifier.contains(version, prereleases=True)):
                found.append(str(folder))
    return list(dict.fromkeys(found))
