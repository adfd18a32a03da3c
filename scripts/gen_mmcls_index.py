#!/usr/bin/env python
"""Generate the mmcls entries of model_index/cls/index.json and their configs from mmcls's published facts.

Facts come from an installed mmcls 0.x (run through the oracle venv's Python, ``--mmcls-python``):

* the model index (``.mim/model-index.yml`` and the metafiles it imports): names, weights URLs,
  metrics, parameters, FLOPs, training data, collections;
* each model's config as ``mim download`` writes it (``scripts/mmcls_flatten.py``: mmcv merges the
  ``_base_`` chain), read as values: architecture settings, pipelines, schedules.

From those values this writes minim's own fragments under ``configs/mmcls/_base_/``: one model per
backbone architecture, one dataset (pipelines, data, evaluation) and one schedule (optimizer,
optimizer_config, lr_config, runner) per distinct set of values, each named after its facts, and the
runtime. Each entry's ``configs/mmcls/<family>/<config>.py`` inherits four fragments and overrides
what differs from them (``_delete_`` where a key goes away). Every written config is loaded back with
minim's loader and checked against mim's values before the index is written.

Usage: ``python scripts/gen_mmcls_index.py --mmcls-python /path/to/oracle/venv/bin/python`` (also run by
``scripts/gen_cls_index.py --mmcls-python ...``). Entries whose ``source`` starts with "mmcls " are
replaced; every other entry is kept.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX_DIR = ROOT / "model_index" / "cls"
MMCLS_DIR = INDEX_DIR / "configs" / "mmcls"
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")
SOURCE_PREFIX = "mmcls "

#: top-level keys of each fragment besides ``model``; every other key stays in the entry's own config
SCHEDULE_KEYS = ("paramwise_cfg", "optimizer", "optimizer_config", "lr_config", "momentum_config", "runner")
RUNTIME_KEYS = ("checkpoint_config", "log_config", "dist_params", "log_level", "load_from", "resume_from",
                "workflow")
DATA_KEYS = ("data_root", "dataset_type", "img_norm_cfg", "NORM_MEAN", "NORM_STD", "EIGVAL", "EIGVEC",
             "policy_imagenet", "rand_increasing_policies", "train_pipeline", "test_pipeline", "sampler", "data",
             "evaluation")
#: the project's shared runtime fragment, used when mmcls's runtime has the same values
PROJECT_RUNTIME = INDEX_DIR / "configs" / "_base_" / "default_runtime.py"


# --- values: tagged JSON from mmcls_flatten.py <-> Python values -------------------------------------------

def untag(value):
    """Python values from ``mmcls_flatten.py``'s JSON (``{"__tuple__": [...]}`` -> tuple)."""
    if isinstance(value, dict):
        if set(value) == {"__tuple__"}:
            return tuple(untag(v) for v in value["__tuple__"])
        return {k: untag(v) for k, v in value.items()}
    if isinstance(value, list):
        return [untag(v) for v in value]
    return value


def tag(value):
    """The inverse of :func:`untag`: tuples as ``{"__tuple__": [...]}`` (JSON-safe)."""
    if isinstance(value, dict):
        return {str(k): tag(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [tag(v) for v in value]}
    if isinstance(value, list):
        return [tag(v) for v in value]
    return value


def canonical(value) -> str:
    """A text equal for two values exactly when they are equal with their types (1 != 1.0, tuple != list)."""
    def tagged(v):
        if isinstance(v, dict):
            return {str(k): tagged(x) for k, x in v.items()}
        if isinstance(v, tuple):
            return {"__tuple__": [tagged(x) for x in v]}
        if isinstance(v, list):
            return [tagged(x) for x in v]
        if isinstance(v, float):
            return {"__float__": repr(v)}
        return v
    return json.dumps(tagged(value), sort_keys=True)


def oracle_values(python: str, configs: list[str], saved: str | None = None) -> tuple[str, dict[str, dict]]:
    """mmcls's ``.mim`` folder and ``{config: flattened values}`` as mim writes them, from the oracle venv
    (or from ``saved``, an earlier ``mmcls_flatten.py --all`` output)."""
    if saved:
        data = json.loads(Path(saved).read_text())
        missing = sorted(set(configs) - set(data["configs"]))
        if missing:
            raise SystemExit(f"{saved} lacks {', '.join(missing)}")
        data["configs"] = {c: data["configs"][c] for c in configs}
    else:
        data = run_flatten(python, configs)
    failed = {k: v["__error__"] for k, v in data["configs"].items() if "__error__" in v}
    if failed:
        raise SystemExit("mmcv could not flatten: " + "; ".join(f"{k}: {v}" for k, v in failed.items()))
    return data["mim_dir"], {k: untag(v) for k, v in data["configs"].items()}


def run_flatten(python: str, configs: list[str]) -> dict:
    """``mmcls_flatten.py``'s JSON for ``configs``, run under ``python``."""
    script = Path(__file__).with_name("mmcls_flatten.py")
    proc = subprocess.run([python, str(script), *configs], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{script.name} failed under {python}:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout)


def mim_dir_of(python: str) -> str:
    """The ``.mim`` folder of the mmcls that ``python`` imports."""
    code = "import mmcls, os; print(os.path.join(os.path.dirname(mmcls.__file__), '.mim'))"
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{python} cannot import mmcls:\n{proc.stderr[-2000:]}")
    return proc.stdout.strip().splitlines()[-1]


# --- metafiles -> index entries -----------------------------------------------------------------------------

def read_metafiles(mim_dir: str) -> tuple[list[dict], dict[str, dict]]:
    """The models mim's model index lists (in its order) and the collections by name."""
    import yaml

    with open(os.path.join(mim_dir, "model-index.yml")) as f:
        imports = yaml.safe_load(f)["Import"]
    models, collections_ = [], {}
    for metafile in imports:
        with open(os.path.join(mim_dir, metafile)) as f:
            data = yaml.safe_load(f)
        for collection in data.get("Collections") or []:
            collections_[collection["Name"]] = collection
        for model in data.get("Models") or []:
            models.append(dict(model, _metafile=metafile))
    return models, collections_


def collection_of(model: dict) -> str:
    name = model.get("In Collection") or model.get("In Collections")
    return name[0] if isinstance(name, list) else name


def as_list(value) -> list:
    return [] if value is None else list(value) if isinstance(value, (list, tuple)) else [value]


def metrics_of(model: dict) -> tuple[str | None, dict]:
    """The evaluation dataset and metrics (top1, top5, map, cf1, of1) of a model's first result."""
    results = model.get("Results") or []
    if not results:
        return None, {}
    names = {"Top 1 Accuracy": "top1", "Top 5 Accuracy": "top5", "mAP": "map", "CF1": "cf1", "OF1": "of1"}
    metrics = {names.get(k, k.lower().replace(" ", "_")): v for k, v in results[0]["Metrics"].items()}
    return results[0]["Dataset"], metrics


def input_size_of(values: dict | None) -> int | None:
    """The crop of the test pipeline (the resolution the published accuracy was measured at)."""
    if values is None:
        return None
    size = None
    for step in values.get("test_pipeline") or []:
        if step.get("type") == "CenterCrop":
            size = step.get("crop_size")
        elif step.get("type") == "Resize" and size is None:
            size = step.get("size")
    if isinstance(size, (list, tuple)):
        size = size[0] if size[0] != -1 else size[1]
    return size if isinstance(size, int) else None


def weights_of(url: str) -> dict:
    digest = HASH_IN_NAME.search(url.rsplit("/", 1)[-1])
    if not digest:
        raise SystemExit(f"no sha256 prefix in the file name of {url}")
    return {"url": url, "sha256": digest.group(1), "size": None, "format": "mmcls"}


def entry_for(model: dict, collections_: dict, config_rel: str | None, values: dict | None, version: str) -> dict:
    """One index entry from a metafile model (and its flattened config values, when it has a config)."""
    collection = collection_of(model)
    meta = model.get("Metadata") or {}
    coll_meta = (collections_.get(collection) or {}).get("Metadata") or {}
    training = as_list(meta.get("Training Data") or coll_meta.get("Training Data"))
    dataset, metrics = metrics_of(model)
    metadata = {
        "dataset": dataset or (training[-1] if training else "unknown"),
        "top1": metrics.pop("top1", None),
        "top5": metrics.pop("top5", None),
        **metrics,
        "params_m": round(meta["Parameters"] / 1e6, 3) if meta.get("Parameters") else None,
        "flops_g": round(meta["FLOPs"] / 1e9, 3) if meta.get("FLOPs") else None,
        "input_size": input_size_of(values),
        "training_data": training,
        "backbone": values["model"]["backbone"]["type"] if values else None,
    }
    for key, name in (("Epochs", "epochs"), ("Batch Size", "batch_size")):
        if meta.get(key) or coll_meta.get(key):
            metadata[name] = meta.get(key) or coll_meta.get(key)
    converted = (model.get("Converted From") or {}).get("Weights")
    if converted:
        metadata["converted_from"] = converted
    return {
        "name": model["Name"],
        "aliases": [],
        "collection": collection,
        "config": config_rel,
        "weights": weights_of(model["Weights"]),
        "metadata": metadata,
        "source": f"mmcls {version}: {model['_metafile']}" + (f" ({model['Config']})" if model.get("Config") else ""),
    }


# --- flattened values -> fragments and entry configs --------------------------------------------------------

def override(base: dict, target: dict) -> dict:
    """The smallest child dict that merges into ``base`` (mmcv rules) to give ``target``."""
    out = {}
    for key, value in target.items():
        old = base.get(key, _MISSING)
        if old is not _MISSING and canonical(old) == canonical(value):
            continue
        if isinstance(value, dict) and isinstance(old, dict):
            out[key] = dict(_delete_=True, **value) if set(old) - set(value) else override(old, value)
        else:
            out[key] = value
    return out


_MISSING = object()


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9._+-]+", "-", str(text).lower()).strip("-")


def number_text(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def model_name(model: dict) -> str:
    """``<backbone type>[-<arch or depth>]``: the architecture a model fragment describes."""
    backbone = model["backbone"]
    parts = [backbone["type"]]
    for key in ("arch", "depth"):
        if isinstance(backbone.get(key), (str, int)):
            parts.append(backbone[key])
    return slug("-".join(map(str, parts)))


def pipeline_tags(values: dict) -> list[str]:
    """Short words for what sets a dataset fragment apart (augmentations, interpolation)."""
    steps = [s for s in values.get("train_pipeline") or [] if isinstance(s, dict)]
    types = {s.get("type") for s in steps}
    tags = [word for word, kind in (("autoaug", "AutoAugment"), ("randaug", "RandAugment"),
                                    ("erase", "RandomErasing"), ("lighting", "Lighting"),
                                    ("jitter", "ColorJitter")) if kind in types]
    if any(s.get("interpolation") == "bicubic" for s in steps):
        tags.append("bicubic")
    if any(s.get("efficientnet_style") for s in steps):
        tags.append("effnet")
    return tags


def data_name(values: dict) -> str:
    data = values["data"]
    size = input_size_of(values)
    parts = [values.get("dataset_type") or data["train"].get("type"), f"bs{data.get('samples_per_gpu')}",
             f"{size}px" if size else None, *pipeline_tags(values)]
    return slug("_".join(str(p) for p in parts if p))


def schedule_name(values: dict) -> str:
    optimizer, lr, runner = values["optimizer"], values["lr_config"], values["runner"]
    length = (f"{runner['max_epochs']}e" if "max_epochs" in runner else f"{runner.get('max_iters')}iter")
    parts = [optimizer["type"], f"lr{number_text(optimizer.get('lr'))}", lr.get("policy"), length]
    if lr.get("warmup"):
        parts.append("warmup")
    return slug("_".join(map(str, parts)))


def pick(values: dict, keys) -> dict:
    return {k: values[k] for k in keys if k in values}


class Fragments:
    """Fragments of one kind (models, datasets, schedules), named after their facts."""

    def __init__(self, folder: str, namer, keys):
        self.folder, self.namer, self.keys = folder, namer, keys
        self.by_value: dict[str, str] = {}   # canonical values -> file name
        self.values: dict[str, dict] = {}    # file name -> values

    def add_exact(self, values: dict) -> str:
        """The fragment holding exactly these values (made once per distinct value)."""
        part = pick(values, self.keys)
        key = canonical(part)
        if key not in self.by_value:
            stem = self.namer(values)
            name, n = f"{stem}.py", 2
            while name in self.values:
                name, n = f"{stem}_v{n}.py", n + 1
            self.by_value[key], self.values[name] = name, part
        return self.by_value[key]


def model_fragments(flat: dict[str, dict]) -> dict[str, tuple[str, dict]]:
    """Per architecture, the most common model dict; returns {config: (fragment file, fragment values)}."""
    groups = collections.defaultdict(list)
    for config, values in flat.items():
        groups[model_name(values["model"])].append(config)
    chosen = {}
    for group, configs in groups.items():
        counts = collections.Counter(canonical(flat[c]["model"]) for c in configs)
        common = counts.most_common(1)[0][0]
        base = next(flat[c]["model"] for c in configs if canonical(flat[c]["model"]) == common)
        for config in configs:
            chosen[config] = (f"{group}.py", {"model": base})
    return chosen


def runtime_fragment(flat: dict[str, dict]) -> tuple[str, dict]:
    """The most common runtime values, as the project's shared runtime fragment when they equal it."""
    parts = [pick(v, RUNTIME_KEYS) for v in flat.values()]
    common = collections.Counter(canonical(p) for p in parts).most_common(1)[0][0]
    base = next(p for p in parts if canonical(p) == common)
    from minim.config import load_config

    if canonical(load_config(PROJECT_RUNTIME).to_dict()) == common:
        return "../../_base_/default_runtime.py", base
    return "../_base_/default_runtime.py", base


def dump(values: dict) -> str:
    from minim.config import Config

    return Config.from_dict(values).dump() if values else ""


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def config_header(names: list[str], config: str, version: str) -> str:
    """The comment atop an entry's config: its models and where its values come from."""
    text = (f"{', '.join(names)}: mmcls {version}'s {config}, generated by scripts/gen_mmcls_index.py from the "
            "values mim writes for it (fragments under ../_base_/).")
    return "".join(f"# {line}\n" for line in textwrap.wrap(text, 100, break_on_hyphens=False))


def write_configs(flat: dict[str, dict], names_by_config: dict[str, list[str]], version: str,
                  root: Path) -> dict[str, Path]:
    """Write fragments and entry configs under ``root`` (a folder at the depth of configs/mmcls); returns
    {mmcls config path: written config}."""
    datasets = Fragments("datasets", data_name, DATA_KEYS)
    schedules = Fragments("schedules", schedule_name, SCHEDULE_KEYS)
    models = model_fragments(flat)
    runtime_file, runtime = runtime_fragment(flat)
    written = {}
    for config, values in flat.items():
        model_file, model_base = models[config]
        bases = [f"../_base_/models/{model_file}", f"../_base_/datasets/{datasets.add_exact(values)}",
                 f"../_base_/schedules/{schedules.add_exact(values)}", runtime_file]
        inherited = {**model_base, **pick(values, DATA_KEYS), **pick(values, SCHEDULE_KEYS), **runtime}
        extra = override(inherited, values)
        header = config_header(names_by_config[config], config, version)
        text = header + "_base_ = [\n" + "".join(f"    {b!r},\n" for b in bases) + "]\n" + dump(extra)
        written[config] = root / Path(config).parent.name / Path(config).name
        write_text(written[config], text)
    fragment_header = f"# Generated by scripts/gen_mmcls_index.py from mmcls {version}'s published configs.\n"
    for file, values in dict(models.values()).items():
        write_text(root / "_base_" / "models" / file, fragment_header + dump(values))
    for kind in (datasets, schedules):
        for file, values in kind.values.items():
            write_text(root / "_base_" / kind.folder / file, fragment_header + dump(values))
    if not runtime_file.startswith("../../"):
        write_text(root / "_base_" / "default_runtime.py", fragment_header + dump(runtime))
    return written


def verify(flat: dict[str, dict], written: dict[str, Path]) -> None:
    """Every written config loads (minim's loader) to exactly mim's values."""
    from minim.config import load_config

    wrong = [c for c, path in written.items() if canonical(load_config(path).to_dict()) != canonical(flat[c])]
    if wrong:
        raise SystemExit(f"generated configs differ from mim's values: {', '.join(wrong)}")


def replace_configs(flat: dict[str, dict], names_by_config: dict[str, list[str]], version: str) -> dict[str, str]:
    """Write and verify every config in a staging folder, then put it in place of configs/mmcls; returns
    {mmcls config path: config path relative to the index}."""
    stage = MMCLS_DIR.with_name(".mmcls-staging")
    shutil.rmtree(stage, ignore_errors=True)
    written = write_configs(flat, names_by_config, version, stage)
    verify(flat, written)
    shutil.rmtree(MMCLS_DIR, ignore_errors=True)
    stage.rename(MMCLS_DIR)
    return {c: (MMCLS_DIR / path.relative_to(stage)).relative_to(INDEX_DIR).as_posix() for c, path in written.items()}


# --- main ---------------------------------------------------------------------------------------------------

def mmcls_version(python: str) -> str:
    proc = subprocess.run([python, "-c", "import mmcls; print(mmcls.__version__)"], capture_output=True, text=True)
    return proc.stdout.strip().splitlines()[-1]


def generate(python: str, saved: str | None = None) -> list[dict]:
    """Write the mmcls configs and return the mmcls index entries."""
    mim_dir = mim_dir_of(python)
    version = mmcls_version(python)
    models, collections_ = read_metafiles(mim_dir)
    configs = list(dict.fromkeys(m["Config"] for m in models if m.get("Config")))
    _, flat = oracle_values(python, configs, saved)
    names_by_config = collections.defaultdict(list)
    for model in models:
        if model.get("Config"):
            names_by_config[model["Config"]].append(model["Name"])
    written = replace_configs(flat, names_by_config, version)
    return [entry_for(m, collections_, written.get(m.get("Config")), flat.get(m.get("Config")), version)
            for m in models]


def write_index(entries: list[dict]) -> tuple[int, int]:
    """Replace the mmcls entries of index.json by ``entries``; returns (kept, written)."""
    index_file = INDEX_DIR / "index.json"
    old = json.loads(index_file.read_text())["models"]
    kept = [e for e in old if not e.get("source", "").startswith(SOURCE_PREFIX)]
    tmp = index_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"codebase": "cls", "models": kept + entries}, indent=2) + "\n")
    os.replace(tmp, index_file)
    return len(kept), len(entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mmcls-python", required=True, metavar="PYTHON",
                        help="a Python with mmcls 0.x and mmcv 1.x (the oracle venv)")
    parser.add_argument("--oracle-json", metavar="FILE",
                        help="reuse the output of `mmcls_flatten.py --all` instead of running it again")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    entries = generate(args.mmcls_python, args.oracle_json)
    kept, count = write_index(entries)
    configs = len({e["config"] for e in entries if e["config"]})
    print(f"wrote {INDEX_DIR / 'index.json'}: {count} mmcls entries ({configs} configs), {kept} other entries kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
