#!/usr/bin/env python
"""Check minim's config reader against every config shipped with mmcls 0.25.0.

Fetches the ``mmcls==0.25.0`` wheel with ``pip download`` (cached under
``$MINIM_HOME/mmcls-configs-check``), extracts ``mmcls/.mim/configs/**.py`` and, for every
config (``_base_`` fragments included), checks that it loads, dumps, and that the dump
re-loads to an identical dict. Prints ``mmcls-configs: N/M ok`` and the failures; exits 1
when any config fails. Then builds the train and test pipelines of every full config with
minim's transforms and prints ``mmcls-pipelines: N/M build`` (all of them build). Unless
``--no-models``, it then builds every full config's model with
``minim.cls.models.build_classifier`` on the meta device (no memory, no init time) and prints
``mmcls-models: N/M build`` with the failures grouped by their error's first line (informative: this
section never changes the exit status; ``check_mmcls_parity.py`` checks the models against mmcls).

    .venv/bin/python scripts/check_mmcls_configs.py [--cache DIR] [--show-warnings] [--no-models]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from minim.config import load_config
from minim.config.values import identical
from minim.errors import MinimError
from minim.settings import minim_home

VERSION = "0.25.0"
CONFIG_PREFIX = "mmcls/.mim/configs/"
#: Configs that are broken in the mmcls 0.25.0 wheel itself (mmcv cannot load them either),
#: with a piece of the error minim must report for them.
BROKEN_UPSTREAM = {
    "_base_/datasets/imagenet_bs64_autoaug.py": "'auto_increasing_policies' is not defined in the base configs",
    "_base_/models/van/van_base.py": "van-b2.py not found",
    "_base_/models/van/van_large.py": "van-b3.py not found",
    "_base_/models/van/van_small.py": "van-b1.py not found",
    "_base_/models/van/van_tiny.py": "van-b0.py not found",
    "mobilenet_v3/mobilenet-v3-small_8xb16_cifar10.py": "mobilenet-v3-small_cifar.py not found",
    "mobilenet_v3/mobilenet_v3_small_cifar.py": "mobilenet-v3-small_cifar.py not found",
}


def fetch_wheel(cache: Path) -> Path:
    """The cached mmcls wheel, downloaded with pip when missing."""
    wheels = sorted(cache.glob(f"mmcls-{VERSION}-*.whl"))
    if not wheels:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", f"mmcls=={VERSION}", "--no-deps",
                        "--quiet", "-d", str(cache)], check=True)
        wheels = sorted(cache.glob(f"mmcls-{VERSION}-*.whl"))
    if not wheels:
        raise SystemExit(f"pip did not leave an mmcls {VERSION} wheel in {cache}")
    return wheels[0]


def extract_configs(wheel: Path, cache: Path) -> Path:
    """Extract the wheel's configs once; return the configs folder."""
    root = cache / f"mmcls-{VERSION}-configs"
    done = root / ".complete"
    if not done.exists():
        with zipfile.ZipFile(wheel) as archive:
            members = [name for name in archive.namelist() if name.startswith(CONFIG_PREFIX)]
            archive.extractall(root, members)
        done.touch()
    return root / CONFIG_PREFIX


def check_config(path: Path, scratch: Path) -> tuple[str | None, list[str], float]:
    """(failure or None, warnings, seconds spent in load_config) for one config."""
    try:
        start = time.perf_counter()
        config = load_config(path)
        seconds = time.perf_counter() - start
        dumped = scratch / path.name
        config.dump(dumped)
        reloaded = load_config(dumped)
    except MinimError as exc:
        return str(exc), [], 0.0
    if not identical(config.to_dict(), reloaded.to_dict()):
        return f"{path}: the dump does not reload to the same dict", [], seconds
    if list(config) != list(reloaded):
        return f"{path}: the dump changes the key order", [], seconds
    return None, list(config.warnings), seconds


#: pipeline transforms of mmcls 0.25.0 that minim leaves out on purpose
UNSUPPORTED_TRANSFORMS: tuple[str, ...] = ()  # transforms minim lacks (none since ToHalf)


def split_pipelines(config) -> list[tuple[str, list]]:
    """``(split, pipeline)`` for data.train and data.test (through dataset wrappers)."""
    found = []
    data = config.get("data") or {}
    for split in ("train", "test"):
        dataset = data.get(split)
        while isinstance(dataset, dict) and "pipeline" not in dataset and "dataset" in dataset:
            dataset = dataset["dataset"]
        if isinstance(dataset, dict) and "pipeline" in dataset:
            found.append((split, list(dataset["pipeline"])))
    return found


def check_pipelines(paths: list[Path], configs_root: Path) -> tuple[int, int, list[str], list[str]]:
    """(built, total, unexpected failures, expected failures) over the full configs' pipelines."""
    import warnings

    from minim.cls.datasets.pipelines.compose import Compose

    built = total = 0
    failures, expected = [], []
    for path in paths:
        name = path.relative_to(configs_root).as_posix()
        if name.startswith("_base_/") or name in BROKEN_UPSTREAM:
            continue
        for split, pipeline in split_pipelines(load_config(path)):
            total += 1
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # RandAugment/AutoAugment policy-list notes
                    Compose(pipeline)
                built += 1
            except MinimError as exc:
                line = f"{name} data.{split}: {exc}"
                (expected if any(t in str(exc) for t in UNSUPPORTED_TRANSFORMS) else failures).append(line)
    return built, total, failures, expected


def _first_line(exc: BaseException) -> str:
    text = exc.message if isinstance(exc, MinimError) else f"{type(exc).__name__}: {exc}"
    lines = str(text).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def build_model(model_cfg) -> str | None:
    """Build ``model_cfg`` with ``build_classifier`` on the meta device (no memory, no init time); the
    error's first line, or None. (Every model of mmcls 0.25.0's configs that minim supports builds there.)"""
    import warnings

    import torch

    from minim.cls.models import build_classifier

    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            build_classifier(model_cfg)
        return None
    except Exception as exc:  # noqa: BLE001 - every failure is reported
        return _first_line(exc)


def failure_group(message: str) -> str:
    """The pattern a failure message is grouped under (its first line without lists, hints and reasons)."""
    line = message.splitlines()[0] if message else message
    line = re.sub(r"; registered: .*$", "", line)          # unknown ... type 'X'; registered: A, B, ...
    match = re.match(r"(.*? is not supported)\b", line)     # drop the reason / what is supported
    if match:
        line = match.group(1)
    return line[:160]


def _is_type_failure(group: str) -> bool:
    """Whether a group is about a type minim does not have (rather than a value a supported type rejects)."""
    return bool(re.match(r"unknown \w+(?: \w+)? type '|backbone '[^']*' is not supported$", group))


def check_models(paths: list[Path], configs_root: Path) -> tuple[int, int, dict[str, list[str]]]:
    """(built, total, failure group -> config names) over the full configs' models."""
    built = total = 0
    groups: dict[str, list[str]] = {}
    for path in paths:
        name = path.relative_to(configs_root).as_posix()
        if name.startswith("_base_/") or name in BROKEN_UPSTREAM:
            continue
        try:
            model_cfg = load_config(path).get("model")
        except MinimError:
            continue  # reported as a config failure above
        if model_cfg is None:
            continue
        total += 1
        failure = build_model(model_cfg)
        if failure is None:
            built += 1
        else:
            groups.setdefault(failure_group(failure), []).append(name)
    return built, total, groups


def print_model_summary(built: int, total: int, groups: dict[str, list[str]], seconds: float) -> None:
    failed = total - built
    print(f"mmcls-models: {built}/{total} build ({failed} failures in {len(groups)} groups; informative, "
          f"the exit status ignores them; {seconds:.1f} s)")
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    types = [g for g in ordered if _is_type_failure(g[0])]
    values = [g for g in ordered if g not in types]
    sections = (("types minim does not have", types), ("supported types that reject the config's arguments", values))
    for title, items in sections:
        if not items:
            continue
        print(f"  {title} ({sum(len(names) for _, names in items)} configs):")
        for group, names in items:
            more = f", ... +{len(names) - 3}" if len(names) > 3 else ""
            print(f"    {len(names):3d} x {group}  (e.g. {', '.join(names[:3])}{more})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=minim_home() / "mmcls-configs-check",
                        help="where the wheel and extracted configs are kept")
    parser.add_argument("--show-warnings", action="store_true", help="print the warnings configs produce")
    parser.add_argument("--models", action=argparse.BooleanOptionalAction, default=True,
                        help="also build every full config's model on the meta device and print the failures "
                             "grouped (informative: the exit status ignores them; default: on)")
    args = parser.parse_args(argv)

    configs_root = extract_configs(fetch_wheel(args.cache), args.cache)
    paths = sorted(configs_root.rglob("*.py"))
    failures: list[str] = []
    broken: list[str] = []
    warned = 0
    total_seconds = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for path in paths:
            name = path.relative_to(configs_root).as_posix()
            failure, warnings, seconds = check_config(path, Path(scratch))
            total_seconds += seconds
            expected = BROKEN_UPSTREAM.get(name)
            if expected and failure and expected in failure:
                broken.append(name)
            elif expected:
                failures.append(f"{name}: broken upstream, expected an error with {expected!r}, got {failure!r}")
            elif failure:
                failures.append(f"{name}: {failure}")
            if warnings:
                warned += 1
                if args.show_warnings:
                    for warning in warnings:
                        print(f"warning: {path.relative_to(configs_root)}: {warning}")
    ok = len(paths) - len(failures) - len(broken)
    print(f"mmcls-configs: {ok}/{len(paths) - len(broken)} ok")
    print(f"({len(broken)} more are broken in mmcls {VERSION} itself and fail with the expected error: "
          f"{', '.join(broken)})")
    print(f"({warned} configs with warnings; load_config took {1000 * total_seconds / max(len(paths), 1):.1f} ms "
          "per config on average)")
    built, total, pipeline_failures, expected = check_pipelines(paths, configs_root)
    print(f"mmcls-pipelines: {built}/{total} build")
    failures += pipeline_failures
    if args.models:
        start = time.perf_counter()
        models_built, models_total, groups = check_models(paths, configs_root)
        print_model_summary(models_built, models_total, groups, time.perf_counter() - start)
    for failure in failures:
        print(f"FAIL {failure}")
    return 1 if failures or not paths else 0


if __name__ == "__main__":
    sys.exit(main())
