#!/usr/bin/env python
"""Check model_index/packages.json for consistency; print each problem and exit 1 when there is any.

Checks: every version and Python version parses; every torchvision/torchaudio pin is a valid
specifier that names a known torch series and admits at least one known torch release of it;
every series names companions that exist; every variant a series offers has an https index URL
and a kind that fits its name; the PyPI default builds are known variants; the README table agrees
with the pins; the "sources" section documents every fact table.

Usage: ``python scripts/check_packages.py [PATH]`` (default: model_index/packages.json).

``python scripts/check_packages.py --real-mmcv VENV`` (needs PyPI; run before saying mmcv works) checks the
real thing end to end: in VENV (made, with torch, when missing) ``minim install mmcls==0.25.0 -y`` must build
mmcv 1.7.2 from its real sdist without ops, ``import mmcls, mmcv`` and ``build_classifier`` must work,
``minim doctor`` must pass and ``minim list --json`` list both; with mmcv removed, ``doctor`` must fail naming
the fix, and a second install must reuse the cached wheel. Prints each step's time.
"""

from __future__ import annotations

import json
import re
import string
import subprocess
import sys
import time
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
FACT_TABLES = ("releases", "series", "variants", "cuda_min_driver", "backends", "import_conflicts", "openmmlab")
VARIANT_NAME = re.compile(r"^(cpu|xpu|cu\d{2,3}|rocm\d+(\.\d+)*)$")
KINDS = {"cpu", "cuda", "rocm", "xpu"}


class Checker:
    def __init__(self, data: dict):
        self.data = data
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def version(self, where: str, text) -> Version | None:
        try:
            return Version(text)
        except (InvalidVersion, TypeError):
            self.problem(where, f"version {text!r} does not parse")
            return None

    def specifier(self, where: str, text) -> SpecifierSet | None:
        try:
            return SpecifierSet(text)
        except (InvalidSpecifier, TypeError):
            self.problem(where, f"specifier {text!r} does not parse")
            return None

    def run(self) -> list[str]:
        for key in ("schema", "sources", *FACT_TABLES):
            if key not in self.data:
                self.problem("<top>", f"missing key {key!r}")
        if self.problems:
            return self.problems
        self.check_sources()
        self.check_variants()
        self.check_releases()
        self.check_series()
        self.check_drivers()
        self.check_backends()
        self.check_conflicts()
        self.check_openmmlab()
        return self.problems

    def check_sources(self):
        sources = self.data["sources"]
        if not isinstance(sources, dict) or not sources:
            self.problem("sources", "must be a non-empty mapping of fact -> where it comes from")
            return
        for table in FACT_TABLES:
            if not any(key == table or key.startswith(table + ".") or key.startswith(table[:-1])
                       for key in sources):
                self.problem("sources", f"no entry documents {table!r}")
        for key, text in sources.items():
            if not isinstance(text, str) or len(text.strip()) < 10:
                self.problem(f"sources.{key}", "needs a real description")

    def check_variants(self):
        for name, entry in self.data["variants"].items():
            where = f"variants.{name}"
            if not VARIANT_NAME.match(name):
                self.problem(where, "name is not cpu, xpu, cuXY or rocmX.Y")
            url = entry.get("url", "")
            if not str(url).startswith("https://"):
                self.problem(where, f"url {url!r} is not an https URL")
            kind = entry.get("kind")
            if kind not in KINDS:
                self.problem(where, f"kind {kind!r} not one of {sorted(KINDS)}")
            elif name.startswith("cu") and (kind != "cuda" or not entry.get("cuda")
                                            or "cu" + entry["cuda"].replace(".", "") != name):
                self.problem(where, f"CUDA variant needs kind 'cuda' and a matching cuda version, got {entry}")
            elif name.startswith("rocm") and kind != "rocm":
                self.problem(where, "ROCm variant needs kind 'rocm'")

    def check_releases(self):
        releases = self.data["releases"]
        torch = releases.get("torch", {})
        if not torch:
            self.problem("releases.torch", "no torch releases")
        torch_versions = {v: self.version(f"releases.torch.{v}", v) for v in torch}
        for package, versions in releases.items():
            for version, entry in versions.items():
                where = f"releases.{package}.{version}"
                self.version(where, version)
                for py in entry.get("python") or []:
                    if not re.fullmatch(r"3\.\d+", str(py)):
                        self.problem(where, f"python version {py!r} is not 3.N")
                if entry.get("requires_python"):
                    self.specifier(where + ".requires_python", entry["requires_python"])
                if not entry.get("python") and not entry.get("requires_python"):
                    self.problem(where, "neither python versions nor requires_python")
                if package == "torch":
                    build = entry.get("pypi_linux_build")
                    if build is not None and build not in self.data["variants"]:
                        self.problem(where, f"pypi_linux_build {build!r} is not a known variant")
                    continue
                series = entry.get("torch_series")
                if series is None:
                    self.problem(where, "no torch_series: which torch is it built for?")
                    continue
                if series not in self.data["series"]:
                    self.problem(where, f"torch_series {series!r} is not a known torch series")
                pin = entry.get("requires_torch")
                spec = self.specifier(where + ".requires_torch", pin) if pin else None
                in_series = [v for v, parsed in torch_versions.items()
                             if parsed and f"{parsed.major}.{parsed.minor}" == series]
                if spec is not None:
                    fitting = [v for v in in_series if spec.contains(torch_versions[v], prereleases=True)]
                    if not fitting:
                        self.problem(where, f"pin torch{pin} admits no known torch release of series {series}")

    def check_series(self):
        releases = self.data["releases"]
        variants = self.data["variants"]
        for series, info in self.data["series"].items():
            where = f"series.{series}"
            if not re.fullmatch(r"\d+\.\d+", series):
                self.problem(where, "series is not MAJOR.MINOR")
            for package in ("torchvision", "torchaudio"):
                companion = info.get(package)
                if companion is None:
                    continue
                built = [v for v, e in releases.get(package, {}).items()
                         if e.get("torch_series") == series and v.startswith(companion + ".")]
                if not built:
                    self.problem(where, f"{package} {companion} has no release built for torch {series}")
            if info.get("python"):
                self.specifier(where + ".python", info["python"])
            offered = info.get("variants") or []
            if "cpu" not in offered:
                self.problem(where, "offers no cpu variant")
            for name in offered:
                if name not in variants:
                    self.problem(where, f"variant {name!r} has no entry (and no URL) in 'variants'")
            if not isinstance(info.get("variants_complete"), bool):
                self.problem(where, "variants_complete must be true or false")
        for series, row in self.data.get("readme_table", {}).items():
            info = self.data["series"].get(series)
            if info and info.get("torchvision") and info["torchvision"] != row.get("torchvision"):
                self.problem(f"readme_table.{series}",
                             f"README pairs torchvision {row.get('torchvision')}, pins say {info['torchvision']}")

    def check_drivers(self):
        for major, table in self.data["cuda_min_driver"].items():
            for system, version in table.items():
                self.version(f"cuda_min_driver.{major}.{system}", version)

    def check_backends(self):
        allowed = {"variant", "torch_series"}
        for name, entry in self.data["backends"].items():
            template = entry.get("find_links")
            if not template:
                continue
            fields = {f for _, f, _, _ in string.Formatter().parse(template) if f}
            if fields - allowed:
                self.problem(f"backends.{name}.find_links", f"unknown fields {sorted(fields - allowed)}")
            if not template.startswith("https://"):
                self.problem(f"backends.{name}.find_links", "is not an https URL")

    def check_conflicts(self):
        for number, entry in enumerate(self.data["import_conflicts"]):
            where = f"import_conflicts[{number}]"
            names = entry.get("distributions") or []
            if not entry.get("import") or len(names) < 2:
                self.problem(where, "needs 'import' and at least two distributions")
            for key in ("prefer", "prefer_with_display"):
                extra = set(entry.get(key) or []) - set(names)
                if extra:
                    self.problem(where, f"{key} names distributions not listed: {sorted(extra)}")


    def check_openmmlab(self):
        section = self.data["openmmlab"]
        for name, entry in section.get("packages", {}).items():
            if "needs_ops" in entry and not isinstance(entry["needs_ops"], bool):
                self.problem(f"openmmlab.packages.{name}", "needs_ops must be true or false")
        mmcv = section.get("mmcv", {})
        names = set(mmcv.get("distributions", []))
        if not names:
            self.problem("openmmlab.mmcv", "no distributions")
        for series, recipe in mmcv.get("series", {}).items():
            where = f"openmmlab.mmcv.series.{series}"
            for kind in ("ops", "lite"):
                entry = recipe.get(kind) or {}
                if entry.get("dist") not in names:
                    self.problem(where, f"{kind}.dist {entry.get('dist')!r} is not one of {sorted(names)}")
                if not entry.get("index") and not entry.get("sdist"):
                    self.problem(where, f"{kind} needs an sdist to build or index: true")
            for text in recipe.get("build_requires", []):
                try:
                    Requirement(text)
                except InvalidRequirement:
                    self.problem(where, f"build requirement {text!r} does not parse")


def check_file(path: Path) -> list[str]:
    """Every problem found in the packages.json at ``path``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"{path}: {exc.strerror or exc}"]
    except ValueError as exc:
        return [f"{path}: not valid JSON ({exc})"]
    if not isinstance(data, dict):
        return [f"{path}: top level is not an object"]
    return Checker(data).run()


REAL_MODEL = ("from mmcls.models import build_classifier; import torch, mmcv, mmcls; "
              "m = build_classifier(dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18), "
              "neck=dict(type='GlobalAveragePooling'), head=dict(type='LinearClsHead', num_classes=10, "
              "in_channels=512))); out = m(torch.rand(1, 3, 64, 64), return_loss=False); "
              "print('mmcls', mmcls.__version__, 'mmcv', mmcv.__version__, 'scores', len(out[0]))")


def _step(title: str, command: list[str], env: dict, expect: int | None = 0) -> subprocess.CompletedProcess:
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    took = time.monotonic() - start
    ok = expect is None or result.returncode == expect
    print(f"{'ok ' if ok else 'FAIL'} {took:6.1f} s  {title} (exit {result.returncode})")
    if not ok:
        print((result.stdout + result.stderr)[-3000:], file=sys.stderr)
        raise SystemExit(1)
    return result


def check_real_mmcv(venv: Path) -> int:
    """The end-to-end check of issue 14 with the real mmcls 0.25.0 and mmcv 1.7.2 sdist (needs PyPI)."""
    import os
    import tempfile

    env = dict(os.environ, MINIM_HOME=os.environ.get("MINIM_HOME") or tempfile.mkdtemp(prefix="minim-real-"))
    python = venv / "bin" / "python"
    minim = [sys.executable, "-m", "minim"]
    if not python.exists():
        _step("make the venv", [sys.executable, "-m", "venv", str(venv)], env)
        _step("torch 2.14.1 into it", [str(python), "-m", "pip", "install", "-q", "torch==2.14.1"], env)
    first = _step("minim install mmcls==0.25.0 -y (mmcv 1.7.2 lite build)",
                  minim + ["install", "mmcls==0.25.0", "-y", "--python", str(venv)], env)
    print("".join(f"    {line.strip()}\n" for line in first.stdout.splitlines() if "built mmcv" in line), end="")
    print("    " + _step("import mmcls, mmcv; build_classifier; forward", [str(python), "-c", REAL_MODEL],
                         env).stdout.strip())
    _step("minim doctor passes", minim + ["doctor", "--python", str(venv)], env)
    listed = json.loads(_step("minim list --json", minim + ["list", "--json", "--python", str(venv)], env).stdout)
    names = {row["name"] for row in listed.get("packages", [])}
    if not {"mmcls", "mmcv"} <= names:
        print(f"FAIL minim list --json lists {sorted(names)}, not mmcls and mmcv", file=sys.stderr)
        return 1
    _step("pip uninstall mmcv", [str(python), "-m", "pip", "uninstall", "-y", "-q", "mmcv"], env)
    report = json.loads(_step("minim doctor fails without mmcv", minim + ["doctor", "--json", "--python", str(venv)],
                              env, expect=1).stdout)
    fixes = [f["fix"] for f in report["findings"] if f["code"] == "openmmlab"]
    print(f"    fix named: {fixes}")
    again = _step("minim install mmcls==0.25.0 -y again (cached wheel)",
                  minim + ["install", "mmcls==0.25.0", "-y", "--python", str(venv)], env)
    if "building mmcv" in again.stdout:
        print("FAIL the cached wheel was not reused", file=sys.stderr)
        return 1
    return 0 if fixes else 1


def main(argv=None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    if args[:1] == ["--real-mmcv"]:
        return check_real_mmcv(Path(args[1]) if len(args) > 1 else Path("/tmp/minim-real-mmcv-venv"))
    path = Path(args[0]) if args else ROOT / "model_index" / "packages.json"
    problems = check_file(path)
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{path}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
