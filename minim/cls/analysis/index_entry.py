"""Model-index entries for published checkpoints, and private index files a team can share.

An entry (see the README's "Model index format") names a config relative to the index file,
weights (url, sha256, size, format) and metadata. :func:`entry_for_checkpoint` measures what it
can (sha256, size, parameters, FLOPs, input size, class count, best score) after checking that
the checkpoint loads into the config's model; :func:`add_to_index` writes the entry and a flattened
copy of the config (``configs/<name>.py``) next to an index file used through ``MINIM_INDEX_PATH``.

``metadata.flops_g`` holds giga multiply-accumulates (FLOPs / 2), the unit of torchvision's tables
and of the built-in index.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

from minim.atomic import write_text_atomic
from minim.cls.analysis.complexity import count_complexity
from minim.cls.analysis.publish import best_number, checkpoint_format, hub_hash
from minim.cls.checkpoint import SkippedTensorsWarning, load_checkpoint, read_checkpoint
from minim.cls.models import build_classifier
from minim.codebases import get_codebase
from minim.errors import CheckpointError, ChecksumError, ConfigError, ModelIndexError, UsageError
from minim.index.configs import load_config_arg
from minim.index.loader import read_index_file
from minim.index.schema import NAME_PATTERN, parse_entry
from minim.net.verify import file_sha256

CODEBASE = "cls"
CONFIG_FOLDER = "configs"
#: dataset names of the built-in dataset types
KNOWN_DATASETS = {"ImageNet": "ImageNet-1k", "CIFAR10": "CIFAR-10", "CIFAR100": "CIFAR-100", "Digits": "digits"}


def check_name(name: str, what: str = "name") -> str:
    """``name`` if the index accepts it, else a usage error."""
    if not NAME_PATTERN.match(name or ""):
        raise UsageError(f"{what} {name!r}: use only letters, digits, '.', '_', '+' and '-' (starting with a "
                         "letter or digit)")
    return name


def config_entry_path(name: str) -> str:
    """Where an entry's flattened config lives, relative to the index file."""
    return f"{CONFIG_FOLDER}/{name}.py"


def weights_url(file_name: str, base_url: str | None, local_path: str | os.PathLike | None = None) -> str:
    """``base_url/<file_name>``, or a ``file://`` URL of the local file when no base URL is given."""
    if base_url:
        if not base_url.startswith(("http://", "https://")):
            raise UsageError(f"--base-url {base_url!r}: expected an http(s) URL (where the file will be served)")
        return base_url.rstrip("/") + "/" + file_name
    return Path(local_path or file_name).resolve().as_uri()


def metadata_from_meta(meta: Mapping[str, Any]) -> dict[str, Any]:
    """What a checkpoint's meta tells: ``num_classes``, ``epochs`` and, when the checkpoint is the run's best
    one, its score (``top1``/``top5`` for accuracies, else ``best_metric`` / ``best_score``)."""
    out: dict[str, Any] = {}
    classes = meta.get("CLASSES")
    if isinstance(classes, (list, tuple)) and classes:
        out["num_classes"] = len(classes)
    epoch = meta.get("epoch")
    if isinstance(epoch, int) and not isinstance(epoch, bool) and epoch > 0:
        out["epochs"] = epoch
    msgs = meta.get("hook_msgs") if isinstance(meta.get("hook_msgs"), Mapping) else {}
    key, score = msgs.get("best_key"), msgs.get("best_score")
    if not (isinstance(key, str) and isinstance(score, (int, float)) and not isinstance(score, bool)):
        return out
    if not is_best_checkpoint(meta):
        return out
    if key in ("accuracy_top-1", "accuracy"):
        out["top1"] = round(float(score), 3)
    elif key == "accuracy_top-5":
        out["top5"] = round(float(score), 3)
    else:
        out["best_metric"], out["best_score"] = key, round(float(score), 4)
    return out


def is_best_checkpoint(meta: Mapping[str, Any]) -> bool:
    """Whether the checkpoint was saved at the run's best evaluation (``hook_msgs.best_number``, or the
    ``_epoch_N`` / ``_iter_N`` of ``best_ckpt``, equals its epoch or iteration)."""
    number = best_number(meta.get("hook_msgs") or {})
    return number is not None and number in (meta.get("epoch"), meta.get("iter"))


def check_entry_config(config: str) -> None:
    """An index entry's config path must be relative to the index folder, without '..' (UsageError if not)."""
    if Path(config).is_absolute() or ".." in Path(config).parts:
        raise UsageError(f"--config {config!r}: an index entry names its config relative to the index folder, "
                         "without '..'", hint="give the path the config will have beside index.json, e.g. "
                         f"configs/{Path(config).name}")


def build_entry(*, name: str, config: str, url: str, sha256: str, size: int | None, fmt: str,
                metadata: Mapping[str, Any], aliases: Sequence[str] = (), collection: str | None = None,
                source: str | None = None, index_file: str | os.PathLike = "index.json") -> dict[str, Any]:
    """An index entry (a JSON-ready dict), validated with :func:`minim.index.schema.parse_entry`.

    A ``file://`` weights URL (not yet uploaded) is allowed here; everything else must be valid.
    """
    check_name(name)
    for alias in aliases:
        check_name(alias, "alias")
    entry = {
        "name": name,
        "aliases": list(dict.fromkeys(a for a in aliases if a != name)),
        "collection": collection or name.split("_", 1)[0],
        "config": config,
        "weights": {"url": url, "sha256": sha256, "size": size, "format": fmt},
        "metadata": {"dataset": "unknown", **{k: v for k, v in metadata.items() if v is not None}},
        "source": source or f"published checkpoint {url.rsplit('/', 1)[-1]}",
    }
    checked = copy.deepcopy(entry)
    if url.startswith("file://"):
        checked["weights"]["url"] = "https://placeholder.invalid/" + url.rsplit("/", 1)[-1]
    parse_entry(checked, Path(index_file), 1)
    return entry


def check_hash_in_name(file_name: str, sha256: str, what: str) -> None:
    """A hash in ``file_name`` (torch.hub style) must start the file's sha256."""
    prefix = hub_hash(file_name)
    if prefix and not sha256.startswith(prefix):
        raise ChecksumError(f"{what} {file_name} carries the hash {prefix} but the file's sha256 is {sha256[:8]}...",
                            hint="publish the checkpoint with `minim run cls publish_model IN OUT` and use the file "
                                 "it writes")


def dataset_name(cfg) -> str:
    """A dataset name for the metadata: known types by name, else the training folder's name."""
    train = (cfg.get("data") or {}).get("train")
    while isinstance(train, Mapping) and train.get("type") in ("RepeatDataset", "ClassBalancedDataset"):
        train = train.get("dataset")
    if isinstance(train, (list, tuple)) and train:
        train = train[0]
    if not isinstance(train, Mapping):
        return "custom"
    kind = str(train.get("type", ""))
    if kind in KNOWN_DATASETS:
        return KNOWN_DATASETS[kind]
    prefix = str(train.get("data_prefix") or "").rstrip("/\\")
    parts = [p for p in Path(prefix).parts if p not in ("", "/", ".")]
    if parts and parts[-1].lower() in ("train", "training", "images") and len(parts) > 1:
        parts = parts[:-1]
    return parts[-1] if parts else "custom"


def input_size(cfg) -> int | None:
    """The test-time image size: the last crop or resize of ``data.test.pipeline``."""
    pipeline = ((cfg.get("data") or {}).get("test") or {}).get("pipeline") or []
    for step in reversed(list(pipeline)):
        if not isinstance(step, Mapping):
            continue
        value = step.get("crop_size") if step.get("type") == "CenterCrop" else None
        if step.get("type") in ("Resize", "RandomResizedCrop"):
            value = step.get("size")
        if isinstance(value, (list, tuple)) and value:
            value = value[0]
        if isinstance(value, int) and value > 0:
            return value
    return None


def entry_for_checkpoint(config: Any, checkpoint: str | os.PathLike, name: str, url: str, *,
                         aliases: Sequence[str] = (), collection: str | None = None, dataset: str | None = None,
                         top1: float | None = None, top5: float | None = None, size: int | None = None,
                         source: str | None = None, cfg_options: Sequence[str] = ()) -> tuple[dict[str, Any], Any]:
    """``(entry, cfg)`` for a published checkpoint of ``config``'s model.

    The checkpoint must load into the model (strictly); parameters and FLOPs are measured at the
    test-time size (``size``, else the test pipeline's, else 224).
    """
    check_name(name)
    path = Path(checkpoint)
    cfg = load_config_arg(CODEBASE, config, list(cfg_options))
    if "model" not in cfg:
        raise ConfigError(f"{getattr(cfg, 'filename', None) or config}: config has no 'model'")
    sha256 = file_sha256(path).hexdigest()
    check_hash_in_name(path.name, sha256, "checkpoint")
    check_hash_in_name(url.rsplit("/", 1)[-1], sha256, "weights url file")
    raw = read_checkpoint(path)
    model = build_classifier(cfg.model)
    meta = _load_exactly(model, path)
    metadata: dict[str, Any] = {"dataset": dataset or dataset_name(cfg)}
    metadata.update(metadata_from_meta(meta))
    metadata.setdefault("num_classes", int(model.num_classes))
    side = size or input_size(cfg) or 224
    cost = count_complexity(model, (3, side, side))
    metadata.update(params_m=round(cost.params / 1e6, 3), flops_g=round(cost.macs / 1e9, 3), input_size=side,
                    file_size_mb=round(path.stat().st_size / 1e6, 3))
    if top1 is not None:
        metadata["top1"] = top1
    if top5 is not None:
        metadata["top5"] = top5
    entry = build_entry(name=name, config=config_entry_path(name), url=url, sha256=sha256, size=path.stat().st_size,
                        fmt=checkpoint_format(raw), metadata=metadata, aliases=aliases,
                        collection=collection or _collection(cfg), source=source)
    return entry, cfg


def _load_exactly(model, path: Path) -> dict:
    """Load ``path`` into ``model``; unlike fine-tuning, a head of another size is an error here."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        meta = load_checkpoint(model, path)
    skipped = [w.message for w in caught if issubclass(w.category, SkippedTensorsWarning)]
    if skipped:
        raise CheckpointError(f"checkpoint {path.name} does not fit the config's model: tensor shapes differ: "
                              f"{skipped[0].shapes}",
                              hint="set model.head.num_classes to the checkpoint's class count")
    return meta


def _collection(cfg) -> str:
    backbone = cfg.model.get("backbone") or {}
    arch = backbone.get("arch") or backbone.get("model_name")
    kind = str(backbone.get("type") or "model")
    if kind in ("TorchvisionBackbone", "TIMMBackbone") and arch:
        return str(arch)
    depth = backbone.get("depth")
    return f"{kind}-{depth}" if isinstance(depth, int) else kind


# ------------------------------------------------------------------------------ private index files
def read_private_index(index_file: Path) -> dict[str, Any]:
    """The JSON of an index file (a new empty ``cls`` index when it does not exist yet)."""
    if not index_file.exists():
        return {"codebase": CODEBASE, "models": []}
    codebase, _entries = read_index_file(index_file)  # validates every entry
    if codebase != CODEBASE:
        raise ModelIndexError(f"{index_file}: an index of codebase {codebase!r}, not {CODEBASE!r}")
    return json.loads(index_file.read_text(encoding="utf-8"))


def _names(raw: Mapping[str, Any]) -> set[str]:
    return {n.lower() for n in [raw.get("name", ""), *raw.get("aliases", [])]}


def check_unique(entry: Mapping[str, Any], others: Sequence[Mapping[str, Any]], where: str) -> None:
    """Raise when ``entry``'s name or an alias is already used by another entry of ``others``."""
    mine = _names(entry)
    for other in others:
        if other.get("name", "").lower() == entry["name"].lower():
            continue
        clash = mine & _names(other)
        if clash:
            raise ModelIndexError(f"{where}: name or alias {sorted(clash)[0]!r} is already used by model "
                                  f"{other.get('name')!r}", hint="choose another --name / --alias")


def add_to_index(index_file: str | os.PathLike, entry: Mapping[str, Any], cfg) -> str:
    """Add ``entry`` to ``index_file`` (replacing an entry of the same name) and write the flattened config
    to ``configs/<name>.py`` next to it. Both writes are atomic. Returns ``'added'`` or ``'updated'``."""
    index_file = Path(index_file)
    if index_file.suffix != ".json":
        raise UsageError(f"--index {index_file}: an index file name must end with .json")
    data = read_private_index(index_file)
    models = data["models"]
    check_unique(entry, models, str(index_file))
    check_unique(entry, [e.to_json() for e in _builtin_entries()], "the built-in index")
    entry = dict(entry)
    entry["config"] = config_entry_path(entry["name"])
    parse_entry(entry, index_file, len(models) + 1)
    config_file = index_file.parent / entry["config"]
    write_text_atomic(config_file, cfg.dump())
    position = next((i for i, e in enumerate(models) if e.get("name", "").lower() == entry["name"].lower()), None)
    status = "added" if position is None else "updated"
    if position is None:
        models.append(entry)
    else:
        replaced, models[position] = models[position], entry
    write_text_atomic(index_file, json.dumps(data, indent=2) + "\n")
    if position is not None and isinstance(replaced.get("config"), str):
        _remove_old_config(index_file.parent / replaced["config"], config_file)
    return status


def _remove_old_config(old: Path, new: Path) -> None:
    """The config of a renamed entry (``m8`` -> ``M8``) goes, unless it is the new file (a case-insensitive disk)."""
    if old.is_file() and old.parent == new.parent and not os.path.samefile(old, new):
        old.unlink()


def _builtin_entries():
    return read_index_file(get_codebase(CODEBASE).index_file(), CODEBASE)[1]
