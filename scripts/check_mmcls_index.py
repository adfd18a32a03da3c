#!/usr/bin/env python
"""Check every mmcls entry of minim's cls index against what ``mim download mmcls --config NAME`` writes.

For each model of mmcls's model index (its metafiles), the oracle venv flattens mmcls's own config
with mmcv as mim does (``scripts/mmcls_flatten.py``); minim writes the entry's config as
``minim download`` does and loads it back. The two are compared by value (types included: a tuple is
not a list, 1 is not 1.0) on model, data pipelines (train/val/test), optimizer, optimizer_config,
lr_config, runner and evaluation, and on the whole config. Prints one line per entry that differs and
ends with ``mmcls-index: equal E / T (whole config W / T; weights-only N; missing M)``.

Usage: ``python scripts/check_mmcls_index.py --mmcls-python /path/to/oracle/venv/bin/python`` (run with
minim's Python); ``--oracle-json FILE`` reuses an earlier ``mmcls_flatten.py --all`` output.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from gen_mmcls_index import canonical, mim_dir_of, oracle_values, read_metafiles, tag  # noqa: E402

SECTIONS = ("model", "data.train.pipeline", "data.val.pipeline", "data.test.pipeline", "optimizer",
            "optimizer_config", "lr_config", "runner", "evaluation")
_ABSENT = "<absent>"


def section(values: dict, dotted: str):
    for part in dotted.split("."):
        if not isinstance(values, dict) or part not in values:
            return _ABSENT
        values = values[part]
    return values


def minim_values(entry, tmp: Path) -> dict:
    """The entry's config as ``minim download`` writes it, loaded back."""
    from minim.config import load_config
    from minim.model_download import flattened_config_text

    path = tmp / f"{entry.name}.py"
    path.write_text(flattened_config_text(entry))
    return load_config(path).to_dict()


def differing(ours: dict, theirs: dict) -> list[str]:
    return [s for s in SECTIONS if canonical(section(ours, s)) != canonical(section(theirs, s))]


def record(path: str, names: list[str], models: list[dict], flat: dict[str, dict]) -> None:
    """Write ``{name: {"config": mmcls config, "values": what mim writes, tuples tagged}}`` for test fixtures."""
    import json

    by_name = {m["Name"]: m for m in models}
    unknown = [n for n in names if n not in by_name or not by_name[n].get("Config")]
    if unknown:
        raise SystemExit(f"no mmcls config for {', '.join(unknown)}")
    data = {n: {"config": by_name[n]["Config"], "values": tag(flat[by_name[n]["Config"]])} for n in names}
    Path(path).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mmcls-python", required=True, metavar="PYTHON",
                        help="a Python with mmcls 0.x and mmcv 1.x (the oracle venv)")
    parser.add_argument("--oracle-json", metavar="FILE", help="an earlier `mmcls_flatten.py --all` output")
    parser.add_argument("--record", metavar="FILE",
                        help="also write mim's values of the --name models to FILE (tests/fixtures/index_*.json)")
    parser.add_argument("--name", dest="names", action="append", default=[], metavar="NAME",
                        help="a model to record (repeatable)")
    args = parser.parse_args(argv)
    from minim.index import load_index

    index = load_index("cls")
    models, _ = read_metafiles(mim_dir_of(args.mmcls_python))
    configs = list(dict.fromkeys(m["Config"] for m in models if m.get("Config")))
    _, flat = oracle_values(args.mmcls_python, configs, args.oracle_json)
    if args.record:
        record(args.record, args.names, models, flat)
    equal = whole = weights_only = missing = total = 0
    with tempfile.TemporaryDirectory() as tmp:
        for model in models:
            entry = index.get(model["Name"])
            if entry is None:
                missing += 1
                print(f"{model['Name']}: not in minim's index")
                continue
            if not model.get("Config"):
                weights_only += 1
                if entry.config is not None:
                    print(f"{model['Name']}: mmcls publishes no config, minim's entry has one")
                continue
            total += 1
            ours, theirs = minim_values(entry, Path(tmp)), flat[model["Config"]]
            diff = differing(ours, theirs)
            equal += not diff
            whole += canonical(ours) == canonical(theirs)
            if diff:
                print(f"{model['Name']}: differs in {', '.join(diff)}")
    print(f"mmcls-index: equal {equal} / {total} (whole config {whole} / {total}; weights-only {weights_only}; "
          f"missing {missing})")
    return 0 if equal == total and not missing else 1


if __name__ == "__main__":
    raise SystemExit(main())
