#!/usr/bin/env python
"""Regenerate model_index/cls/index.json and its configs from torchvision's own weights metadata.

For every ImageNet-1k classification weight torchvision publishes (``torchvision.models``
builders and their ``Weights`` enums) this writes:

* ``configs/_base_/models/<arch>.py``: the model dict, from ``minim.cls.models.zoo``;
* ``configs/<family>/<name>.py``: a config inheriting the model and the ImageNet bases, with
  the evaluation preprocessing the weight's published accuracy was measured with;
* an index entry with the URL, the sha256 prefix its file name carries, acc@1/acc@5,
  parameters, GFLOPs, file size and minimum input size.

With ``--mmcls-python PYTHON`` (a Python with mmcls 0.x and mmcv 1.x) it also regenerates the mmcls
entries and configs (``scripts/gen_mmcls_index.py``); without it they are kept as they are, as are
hand-written entries such as the digits config. Usage: ``python scripts/gen_cls_index.py
[--mmcls-python PYTHON]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INDEX_DIR = ROOT / "model_index" / "cls"
HASH_IN_NAME = re.compile(r"-([a-f0-9]{8,})\.")
RUNTIME_BASES = ["../_base_/schedules/imagenet_bs256.py", "../_base_/default_runtime.py"]

#: arch prefix -> (collection, folder); the first matching prefix wins
FAMILIES = [
    ("resnext", "ResNeXt", "resnext"), ("wide_resnet", "Wide ResNet", "wide_resnet"),
    ("resnet", "ResNet", "resnet"), ("mobilenet_v2", "MobileNetV2", "mobilenet_v2"),
    ("mobilenet_v3", "MobileNetV3", "mobilenet_v3"), ("vgg", "VGG", "vgg"),
    ("efficientnet_v2", "EfficientNetV2", "efficientnet_v2"), ("efficientnet", "EfficientNet", "efficientnet"),
    ("regnet", "RegNet", "regnet"), ("convnext", "ConvNeXt", "convnext"),
    ("swin_v2", "Swin Transformer V2", "swin_transformer_v2"), ("swin", "Swin Transformer", "swin_transformer"),
    ("vit", "Vision Transformer", "vision_transformer"), ("maxvit", "MaxViT", "maxvit"),
    ("densenet", "DenseNet", "densenet"), ("inception", "Inception V3", "inception_v3"),
    ("googlenet", "GoogLeNet", "googlenet"), ("alexnet", "AlexNet", "alexnet"),
    ("squeezenet", "SqueezeNet", "squeezenet"), ("shufflenet", "ShuffleNetV2", "shufflenet_v2"),
    ("mnasnet", "MNASNet", "mnasnet"),
]


def family(arch: str) -> tuple[str, str]:
    for prefix, collection, folder in FAMILIES:
        if arch.startswith(prefix):
            return collection, folder
    raise SystemExit(f"no family for torchvision arch {arch!r}: add it to FAMILIES")


def weight_tag(weight_name: str) -> str:
    """IMAGENET1K_SWAG_E2E_V1 -> swag-e2e-v1."""
    return weight_name.replace("IMAGENET1K_", "").lower().replace("_", "-")


def number(value):
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


BASE_PREPROCESSING = (256, 224, "bilinear", [123.675, 116.28, 103.53], [58.395, 57.12, 57.375])

PIPELINES_TEMPLATE = """\
# ImageNet-1k data with the evaluation preprocessing of some torchvision weights:
# resize the short side to {resize}, centre-crop {crop} ({interpolation}){norm_note}; PIL's resize
# (backend='pillow'), which torchvision's evaluation of these weights runs.
_base_ = './imagenet_bs32.py'
img_norm_cfg = dict(mean={mean!r}, std={std!r}, to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomResizedCrop', size={crop}, interpolation='{interpolation}', backend='pillow'),
    dict(type='RandomFlip', flip_prob=0.5, direction='horizontal'),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='ToTensor', keys=['gt_label']),
    dict(type='Collect', keys=['img', 'gt_label']),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', size=({resize}, -1), interpolation='{interpolation}', backend='pillow'),
    dict(type='CenterCrop', crop_size={crop}),
    dict(type='Normalize', **img_norm_cfg),
    dict(type='ImageToTensor', keys=['img']),
    dict(type='Collect', keys=['img']),
]
data = dict(
    train=dict(pipeline=train_pipeline),
    val=dict(pipeline=test_pipeline),
    test=dict(pipeline=test_pipeline))
"""


def preprocessing(transforms) -> tuple:
    """(resize, crop, interpolation, mean, std) of a torchvision weight's evaluation transform."""
    return (transforms.resize_size[0], transforms.crop_size[0], transforms.interpolation.value,
            [round(m * 255, 3) for m in transforms.mean], [round(s * 255, 3) for s in transforms.std])


def dict_diff(base: dict, other: dict) -> dict:
    """The keys of ``other`` whose values differ from ``base`` (recursing into dicts)."""
    diff = {}
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            nested = dict_diff(base[key], value)
            if nested:
                diff[key] = nested
        elif base.get(key, object()) != value:
            diff[key] = value
    return diff


def dataset_base(prep: tuple) -> str:
    """The dataset base for a preprocessing, written once under _base_/datasets/ (relative to a config)."""
    if prep == BASE_PREPROCESSING:
        return "../_base_/datasets/imagenet_bs32.py"
    resize, crop, interpolation, mean, std = prep
    standard_norm = (mean, std) == BASE_PREPROCESSING[3:]
    name = f"imagenet_bs32_r{resize}_c{crop}_{interpolation}{'' if standard_norm else f'_mean{round(mean[0])}'}.py"
    norm_note = "" if standard_norm else f", mean {mean}, std {std}"
    write_if_changed(INDEX_DIR / "configs" / "_base_" / "datasets" / name, PIPELINES_TEMPLATE.format(
        resize=resize, crop=crop, interpolation=interpolation, mean=mean, std=std, norm_note=norm_note))
    return f"../_base_/datasets/{name}"


def weight_config_text(header: str, arch: str, prep: tuple, model_override: dict) -> str:
    """A per-weight config: its model, dataset and runtime bases, plus the model keys that differ."""
    bases = [f"../_base_/models/{arch}.py", dataset_base(prep), *RUNTIME_BASES]
    text = header + "_base_ = [\n" + "".join(f"    {b!r},\n" for b in bases) + "]\n"
    if model_override:
        from minim.config import Config

        text += Config.from_dict(dict(model=model_override)).dump()
    return text


def render(header: str, values: dict) -> str:
    from minim.config import Config

    return header + Config.from_dict(values).dump()


def write_if_changed(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def torchvision_entries() -> list[dict]:
    import torchvision
    from torchvision import models

    from minim.cls.models.zoo import model_config_for_arch

    entries = []
    for arch in models.list_models(module=models):
        collection, folder = family(arch)
        write_if_changed(
            INDEX_DIR / "configs" / "_base_" / "models" / f"{arch}.py",
            render(f"# {collection}: torchvision.models.{arch}, as minim's cls engine builds it.\n",
                   dict(model=model_config_for_arch(arch))),
        )
        weights_enum = models.get_model_weights(arch)
        default_model = model_config_for_arch(arch)
        for weight in weights_enum:
            meta = weight.meta
            file_name = weight.url.rsplit("/", 1)[-1]
            digest = HASH_IN_NAME.search(file_name)
            if not digest:
                raise SystemExit(f"{weight}: no sha256 prefix in {file_name}")
            tag = weight_tag(weight.name)
            dashed = arch.replace("_", "-")
            name = f"{dashed}_torchvision-{tag}_in1k"
            aliases = [f"{type(weight).__name__}.{weight.name}"]
            if weight is weights_enum.DEFAULT:
                aliases = list(dict.fromkeys([dashed, arch])) + aliases
            prep = preprocessing(weight.transforms())
            metrics = meta["_metrics"]["ImageNet-1K"]
            header = (f"# {collection} {arch} with torchvision weights {type(weight).__name__}.{weight.name}\n"
                      f"# ({weight.url}).\n"
                      f"# Evaluation preprocessing as torchvision measured its published accuracy.\n")
            rel_config = f"configs/{folder}/{name}.py"
            model_override = dict_diff(default_model, model_config_for_arch(arch, weights=weight.name))
            write_if_changed(INDEX_DIR / rel_config, weight_config_text(header, arch, prep, model_override))
            entries.append({
                "name": name,
                "aliases": aliases,
                "collection": collection,
                "config": rel_config,
                "weights": {"url": weight.url, "sha256": digest.group(1), "size": None, "format": "torchvision"},
                "metadata": {
                    "dataset": "ImageNet-1k",
                    "top1": number(metrics.get("acc@1")),
                    "top5": number(metrics.get("acc@5")),
                    "params_m": round(meta["num_params"] / 1e6, 3),
                    "flops_g": number(meta.get("_ops")),
                    "input_size": prep[1],
                    "min_size": list(meta["min_size"]),
                    "file_size_mb": meta.get("_file_size"),
                    "arch": arch,
                },
                "source": f"torchvision {torchvision.__version__.split('+')[0]}: "
                          f"torchvision.models.{type(weight).__name__}.{weight.name}",
            })
    return entries


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="It rewrites the tracked model_index/cls/index.json and configs from the installed torchvision.")
    parser.add_argument("--mmcls-python", metavar="PYTHON",
                        help="also regenerate the mmcls entries with this Python (it has mmcls 0.x and mmcv 1.x)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    index_file = INDEX_DIR / "index.json"
    old = json.loads(index_file.read_text())["models"] if index_file.exists() else []
    kept = [e for e in old if not e.get("source", "").startswith(("torchvision ", "mmcls "))]
    mmcls = [e for e in old if e.get("source", "").startswith("mmcls ")]
    generated = torchvision_entries()
    if args.mmcls_python:
        sys.path.insert(0, str(ROOT / "scripts"))
        from gen_mmcls_index import generate

        mmcls = generate(args.mmcls_python)
    data = {"codebase": "cls", "models": kept + generated + mmcls}
    tmp = index_file.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, index_file)
    archs = {e["metadata"]["arch"] for e in generated}
    mmcls_done = "regenerated" if args.mmcls_python else "kept"
    print(f"wrote {index_file}: {len(generated)} torchvision weights over {len(archs)} architectures, "
          f"{len(mmcls)} mmcls entries {mmcls_done}, {len(kept)} other entries kept")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
