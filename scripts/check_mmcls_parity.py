#!/usr/bin/env python
"""Prove that minim builds mmcls 0.25's models and loads their checkpoints, against the real mmcls.

The real mmcls runs in a side virtual environment (never a dependency of minim)::

    python3 -m venv /tmp/mmcls-venv && . /tmp/mmcls-venv/bin/activate
    pip install torch==2.14.1 torchvision==0.29.1 "setuptools<70" wheel "numpy<2"
    pip install mmcls==0.25.0 --no-deps
    MMCV_WITH_OPS=0 pip install mmcv==1.7.2 --no-build-isolation
    pip install matplotlib packaging "yapf<0.41" addict opencv-python-headless

Then, from minim's own environment::

    python scripts/check_mmcls_parity.py --mmcls-python /tmp/mmcls-venv/bin/python [--only 'swin*'] [--family vit]

For each config of the mmcls wheel (the side venv's ``mmcls/.mim/configs``) the side venv
builds the model with mmcls, runs ``init_weights``, perturbs every floating-point parameter and
buffer with a seeded generator (so zero-initialised BN gammas, 1e-6 layer scales and 0/1 BN
statistics cannot hide a wrong mapping), saves the state dict as mmcls saves checkpoints, and
the raw logits (``head.simple_test`` without softmax) of a seeded input.  minim then reads the
same config with its own config loader, builds the model, loads that checkpoint strictly and
compares the logits.  A config is

- exact: max |diff| <= 1e-5 * max(1, max |logit|);
- wrong: it loads but the logits differ more;
- refused: minim raises one of its own errors (unsupported argument, keys it cannot map);
- crashed: anything else.

The last line is ``mmcls-parity: exact E / built-in-mmcls B (refused R, crashed C, wrong W)``.

``--record-keys FILE`` writes every config's model dict and mmcls state-dict key shapes (the CI
fixture of ``tests/test_cls_mmcls_zoo.py``); ``--record-small DIR`` records, for each
``DIR/<name>.json`` (a small model: ``{"model": {...}, "input_shape": [1, 3, H, W]}``; only the
names given with ``--family`` when there are any), the logits mmcls gives with the deterministic
weights of ``tests/mmcls_synthetic.py`` (``DIR/<name>.pt``, with the input and the key shapes), which
``tests/test_cls_mmcls_small.py`` compares with minim without mmcls.
``--side`` is the half that runs inside the mmcls venv; it imports nothing from minim.
"""

from __future__ import annotations

import argparse
import fnmatch
import gzip
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEED = 0
TOLERANCE = 1e-5
#: configs mmcls 0.25.0 itself cannot load (broken ``_base_`` paths in the wheel)
BROKEN_UPSTREAM = {"mobilenet_v3/mobilenet-v3-small_8xb16_cifar10.py", "mobilenet_v3/mobilenet_v3_small_cifar.py"}


# ============================================================================ shared helpers
# (used on both sides: they import only torch)
def strip_pretrained(value):
    """The model dict without ``init_cfg=dict(type='Pretrained')``/``pretrained`` (no downloads)."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if key == "pretrained":
                continue
            if key == "init_cfg" and _names_pretrained(item):
                continue
            out[key] = strip_pretrained(item)
        return out
    if isinstance(value, (list, tuple)):
        return type(value)(strip_pretrained(item) for item in value)
    return value


def _names_pretrained(init_cfg) -> bool:
    cfgs = init_cfg if isinstance(init_cfg, (list, tuple)) else [init_cfg]
    return any(isinstance(c, dict) and c.get("type") == "Pretrained" for c in cfgs)


def perturb(module, seed: int = SEED) -> None:
    """Add seeded noise to every floating-point parameter and buffer, in state-dict order.

    Tensors with spread get 10 % of their own standard deviation; constant ones (zero biases,
    BN gammas of 0 or 1, 1e-6 layer scales) get noise of 0.1; running variances become
    uniform in [0.5, 1.5].
    """
    import torch

    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, tensor in module.state_dict(keep_vars=True).items():
            if not tensor.is_floating_point():
                continue
            data = tensor.data
            if name.endswith("running_var"):
                data.copy_(torch.rand(data.shape, generator=generator) + 0.5)
                continue
            spread = float(data.float().std()) if data.numel() > 1 else 0.0
            scale = 0.1 * spread if spread > 1e-3 else 0.1
            data.add_(torch.randn(data.shape, generator=generator).to(data.dtype) * scale)


def input_shape(model_cfg: dict, test_pipeline: list | None, in_channels: int) -> tuple[int, ...]:
    """(1, C, H, W) the config's test pipeline feeds its model."""
    size = None
    for step in test_pipeline or []:
        kind = step.get("type")
        if kind == "CenterCrop":
            size = step.get("crop_size")
        elif kind == "Resize" and size is None:
            size = step.get("size")
    if size is None:
        size = model_cfg.get("backbone", {}).get("img_size", 224)
    if isinstance(size, (list, tuple)):
        h, w = (list(size) + list(size))[:2]
        h = w if h == -1 else h
        w = h if w == -1 else w
    else:
        h = w = size
    return (1, in_channels, int(h), int(w))


def first_conv_channels(model) -> int:
    import torch

    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            return module.in_channels
    return 3


def seeded_input(shape, seed: int = SEED):
    import torch

    return torch.randn(shape, generator=torch.Generator().manual_seed(seed + 1))


# ============================================================================ the mmcls side
def mmcls_logits(model, x):
    """mmcls's raw class scores: ``head.simple_test`` without softmax/sigmoid and post-processing."""
    feats = model.extract_feat(x)
    accepted = inspect.signature(model.head.simple_test).parameters
    kwargs = {k: False for k in ("softmax", "sigmoid", "post_process") if k in accepted}
    scores = model.head.simple_test(feats, **kwargs)
    if isinstance(scores, list):  # ConformerHead: its branches' scores, whose sum its softmax sees
        scores = sum(scores)
    return scores


def _quiet() -> None:
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.disable(logging.WARNING)


def side_dump(configs_root: Path, names: list[str], out_dir: Path) -> None:
    """In the mmcls venv: one JSON line per config on stdout; checkpoint and logits under out_dir."""
    _quiet()
    import mmcv
    import torch
    from mmcls.models import build_classifier

    torch.set_num_threads(max(1, os.cpu_count() or 1))
    for name in names:
        row = {"config": name}
        start = time.perf_counter()
        try:
            cfg = mmcv.Config.fromfile(str(configs_root / name))
            model_cfg = strip_pretrained(cfg._cfg_dict.to_dict()["model"])
            test_pipeline = cfg._cfg_dict.to_dict().get("data", {}).get("test", {}).get("pipeline")
            torch.manual_seed(SEED)
            model = build_classifier(model_cfg)
            model.init_weights()
            perturb(model)
            model.eval()  # after perturbing: some modules cache tensors at eval() (EfficientFormer's bias)
            shape = input_shape(model_cfg, test_pipeline, first_conv_channels(model))
            x = seeded_input(shape)
            with torch.no_grad():
                logits = mmcls_logits(model, x)
            state = model.state_dict()
            row.update(status="built", model=model_cfg, input_shape=list(shape),
                       keys={k: list(v.shape) for k, v in state.items()})
            stem = name.replace("/", "__")[:-3]
            torch.save({"input": x, "logits": logits}, out_dir / f"{stem}.out.pt")
            torch.save({"state_dict": state, "meta": {"mmcls_version": "0.25.0"}}, out_dir / f"{stem}.pth")
        except Exception as exc:  # noqa: BLE001 - recorded, not hidden
            row.update(status="mmcls-failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        row["seconds"] = round(time.perf_counter() - start, 2)
        print(json.dumps(row), flush=True)


def side_keys(configs_root: Path, names: list[str]) -> None:
    """In the mmcls venv: each config's model dict and state-dict shapes (the model built on the meta device
    where its builder allows)."""
    _quiet()
    import mmcv
    import torch
    from mmcls.models import build_classifier

    for name in names:
        row = {"config": name}
        try:
            cfg = mmcv.Config.fromfile(str(configs_root / name))
            model_cfg = strip_pretrained(cfg._cfg_dict.to_dict()["model"])
            test_pipeline = cfg._cfg_dict.to_dict().get("data", {}).get("test", {}).get("pipeline")
            try:
                with torch.device("meta"):
                    model = build_classifier(model_cfg)
            except RuntimeError:  # builders that read tensor values (drop-path schedules): build for real
                model = build_classifier(model_cfg)
            shape = input_shape(model_cfg, test_pipeline, first_conv_channels(model))
            row.update(status="built", model=model_cfg, input_shape=list(shape),
                       keys={k: list(v.shape) for k, v in model.state_dict().items()})
        except Exception as exc:  # noqa: BLE001 - recorded, not hidden
            row.update(status="mmcls-failed", error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        print(json.dumps(row), flush=True)


def side_record_small(small_dir: Path, families: list[str]) -> None:
    """In the mmcls venv: for each ``small_dir/<name>.json`` model, the logits mmcls computes with the
    synthetic weights of ``tests/mmcls_synthetic.py``, the input, and the key shapes and integer buffers
    the test rebuilds those weights from (a few kB, whatever the model's size)."""
    _quiet()
    import torch
    from mmcls.models import build_classifier

    synthetic = _synthetic_module()
    for spec_path in sorted(small_dir.glob("*.json")):
        if families and spec_path.stem not in families:
            continue
        spec = json.loads(spec_path.read_text())
        torch.manual_seed(SEED)
        model = build_classifier(spec["model"])
        model.init_weights()
        own = model.state_dict()
        shapes = {k: list(v.shape) for k, v in own.items() if v.is_floating_point()}
        integers = {k: v for k, v in own.items() if not v.is_floating_point()}
        loaded = model.load_state_dict(synthetic.synthetic_state(shapes, integers), strict=False)
        assert not loaded.unexpected_keys, loaded.unexpected_keys
        # buffers mmcls rebuilds on load rather than loading (SwinTransformerV2's coordinate tables)
        shapes = {k: v for k, v in shapes.items() if k not in loaded.missing_keys}
        integers = {k: v for k, v in integers.items() if k not in loaded.missing_keys}
        model.eval()  # after the weights: some modules cache tensors at eval() (EfficientFormer's bias)
        x = seeded_input(tuple(spec["input_shape"]))
        with torch.no_grad():
            logits = mmcls_logits(model, x)
        torch.save({"shapes": shapes, "integers": integers, "input": x, "logits": logits},
                   spec_path.with_suffix(".pt"))
        print(f"recorded {spec_path.with_suffix('.pt')}", flush=True)


def _synthetic_module():
    """``tests/mmcls_synthetic.py``, loaded by path (this side has no minim and no tests package)."""
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "tests" / "mmcls_synthetic.py"
    spec = importlib.util.spec_from_file_location("mmcls_synthetic", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def side_configs_root() -> Path:
    import mmcls

    return Path(mmcls.__file__).parent / ".mim" / "configs"


# ============================================================================ the minim side
def compare(configs_root: Path, row: dict, out_dir: Path) -> dict:
    """Build the config in minim, load mmcls's checkpoint, compare logits; ``row`` gains the verdict."""
    import torch

    from minim.cls.checkpoint import load_checkpoint
    from minim.cls.models import build_classifier
    from minim.config import load_config
    from minim.errors import MinimError

    stem = row["config"].replace("/", "__")[:-3]
    try:
        cfg = load_config(configs_root / row["config"])
        model = build_classifier(strip_pretrained(_plain(cfg["model"]))).eval()
        load_checkpoint(model, out_dir / f"{stem}.pth", skip_mismatched_head=False)
        expected = torch.load(out_dir / f"{stem}.out.pt", weights_only=True)
        with torch.no_grad():
            logits = model(expected["input"])
        reference = expected["logits"]
        note = None
        if tuple(logits.shape) != tuple(reference.shape):
            if logits.numel() != reference.numel():
                return dict(row, verdict="wrong", why=f"logits shape {tuple(logits.shape)} != {tuple(reference.shape)}")
            # mmcls's LeNet5 squeezes a batch of one down to (classes,); minim keeps (1, classes)
            note = f"mmcls's logits are shaped {tuple(reference.shape)}, minim's {tuple(logits.shape)}"
            reference = reference.reshape(logits.shape)
        diff = float((logits - reference).abs().max())
        scale = max(1.0, float(reference.abs().max()))
        verdict = "exact" if diff <= TOLERANCE * scale else "wrong"
        return dict(row, verdict=verdict, diff=diff, scale=scale, **({"note": note} if note else {}))
    except MinimError as exc:
        return dict(row, verdict="refused", why=str(exc).splitlines()[0][:240])
    except Exception as exc:  # noqa: BLE001 - a crash is a finding
        return dict(row, verdict="crashed", why=f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        (out_dir / f"{stem}.pth").unlink(missing_ok=True)


def _plain(value):
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def run_side(python: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    return subprocess.Popen([python, os.path.abspath(__file__), "--side", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env)


def list_configs(configs_root: Path, only: list[str], families: list[str]) -> list[str]:
    names = sorted(str(p.relative_to(configs_root)) for p in configs_root.rglob("*.py")
                   if not str(p.relative_to(configs_root)).startswith("_base_/"))
    names = [n for n in names if n not in BROKEN_UPSTREAM]
    if families:
        names = [n for n in names if n.split("/")[0] in families]
    if only:
        names = [n for n in names if any(fnmatch.fnmatch(n, p) or fnmatch.fnmatch(n.split("/")[-1], p) for p in only)]
    return names


def print_table(rows: list[dict]) -> None:
    families: dict[str, list[dict]] = {}
    for row in rows:
        families.setdefault(row["config"].split("/")[0], []).append(row)
    print(f"{'family':<20} {'configs':>7} {'exact':>6} {'refused':>8} {'crashed':>8} {'wrong':>6}  worst diff")
    for family, items in sorted(families.items()):
        count = {v: sum(1 for r in items if r.get("verdict") == v) for v in ("exact", "refused", "crashed", "wrong")}
        diffs = [r["diff"] for r in items if "diff" in r]
        worst = f"{max(diffs):.2e}" if diffs else "-"
        print(f"{family:<20} {len(items):>7} {count['exact']:>6} {count['refused']:>8} {count['crashed']:>8} "
              f"{count['wrong']:>6}  {worst}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mmcls-python", default=os.environ.get("MMCLS_PYTHON"),
                        help="python of the side venv with mmcls 0.25.0 (or $MMCLS_PYTHON)")
    parser.add_argument("--only", action="append", default=[], help="glob over config paths or names; repeatable")
    parser.add_argument("--family", action="append", default=[], help="config folder (vit, swin, ...); repeatable")
    parser.add_argument("--chunk", type=int, default=8, help="configs per mmcls process")
    parser.add_argument("--report", help="write one JSON line per config here")
    parser.add_argument("--record-keys", help="write the key/shape fixture (gzipped JSON) here")
    parser.add_argument("--keys-only", action="store_true",
                        help="with --record-keys: build on the meta device in mmcls and record keys only (fast)")
    parser.add_argument("--record-small", help="record the small-model fixtures of this folder and stop")
    parser.add_argument("--from-report", nargs="+", metavar="REPORT",
                        help="print the table and the last line of earlier --report files (runs of separate "
                             "families), running nothing")
    parser.add_argument("--side", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.side:
        return _side_main(args.side)
    if args.from_report:
        rows = [json.loads(line) for path in args.from_report for line in Path(path).read_text().splitlines() if line]
        return summarise(list({row["config"]: row for row in rows}.values()))
    if not args.mmcls_python:
        parser.error("give --mmcls-python (the side venv with mmcls 0.25.0; see --help)")
    if args.record_keys and args.keys_only:
        return record_keys_only(args)
    if args.record_small:
        return subprocess.call([args.mmcls_python, os.path.abspath(__file__), "--side", "small", args.record_small,
                                *args.family])
    root = Path(subprocess.check_output([args.mmcls_python, os.path.abspath(__file__), "--side", "root"],
                                        text=True, stderr=subprocess.DEVNULL).strip())
    names = list_configs(root, args.only, args.family)
    if not names:
        print("no config matches", file=sys.stderr)
        return 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="mmcls-parity-") as scratch:
        out_dir = Path(scratch)
        for start in range(0, len(names), args.chunk):
            chunk = names[start:start + args.chunk]
            proc = run_side(args.mmcls_python, "dump", str(root), str(out_dir), *chunk)
            for line in proc.stdout:
                row = json.loads(line)
                if row["status"] == "built":
                    row = compare(root, row, out_dir)
                rows.append(row)
                shown = row.get("verdict", row["status"])
                detail = f"{row['diff']:.1e}" if "diff" in row else row.get("why", row.get("error", ""))
                print(f"{shown:<12} {row['config']:<70} {detail}", flush=True)
            proc.wait()
    if args.report:
        Path(args.report).write_text("".join(json.dumps({k: v for k, v in r.items() if k not in ("keys", "model")})
                                             + "\n" for r in rows))
    if args.record_keys:
        fixture = {r["config"]: {"model": r["model"], "input_shape": r["input_shape"], "keys": r["keys"]}
                   for r in rows if r["status"] == "built"}
        with gzip.open(args.record_keys, "wt") as handle:
            json.dump(fixture, handle, sort_keys=True, separators=(",", ":"))
    return summarise(rows)


def summarise(rows: list[dict]) -> int:
    """The per-family table, every config that is not exact with its reason, and the last line."""
    built = [r for r in rows if r["status"] == "built"]
    print_table(built)
    count = {v: sum(1 for r in built if r["verdict"] == v) for v in ("exact", "refused", "crashed", "wrong")}
    not_built = [r for r in rows if r["status"] != "built"]
    for row in not_built:
        print(f"mmcls itself fails: {row['config']}: {row['error']}")
    for row in built:
        if row["verdict"] != "exact":
            print(f"{row['verdict']}: {row['config']}: {row.get('why') or row.get('diff')}")
        elif row.get("note"):
            print(f"exact, with a note: {row['config']}: {row['note']}")
    print(f"mmcls-parity: exact {count['exact']} / built-in-mmcls {len(built)} (refused {count['refused']}, "
          f"crashed {count['crashed']}, wrong {count['wrong']})")
    return 0 if count["crashed"] == 0 and count["wrong"] == 0 else 1


def record_keys_only(args) -> int:
    """``--record-keys FILE --keys-only``: the key/shape fixture without building anything in minim."""
    root = Path(subprocess.check_output([args.mmcls_python, os.path.abspath(__file__), "--side", "root"],
                                        text=True, stderr=subprocess.DEVNULL).strip())
    names = list_configs(root, args.only, args.family)
    proc = run_side(args.mmcls_python, "keys", str(root), *names)
    rows = [json.loads(line) for line in proc.stdout]
    proc.wait()
    fixture = {r["config"]: {"model": r["model"], "input_shape": r["input_shape"], "keys": r["keys"]}
               for r in rows if r["status"] == "built"}
    with gzip.open(args.record_keys, "wt") as handle:
        json.dump(fixture, handle, sort_keys=True, separators=(",", ":"))
    for row in rows:
        if row["status"] != "built":
            print(f"mmcls itself fails: {row['config']}: {row['error']}")
    print(f"recorded {len(fixture)} configs in {args.record_keys}")
    return 0


def _side_main(argv: list[str]) -> int:
    command, *rest = argv
    if command == "root":
        print(side_configs_root())
    elif command == "dump":
        root, out_dir, *names = rest
        side_dump(Path(root), names, Path(out_dir))
    elif command == "keys":
        root, *names = rest
        side_keys(Path(root), names)
    elif command == "small":
        side_record_small(Path(rest[0]), rest[1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
