"""``minim download CODEBASE --config NAME ... --dest DIR`` and ``minim download CODEBASE --dataset NAME --dest DIR``."""

from __future__ import annotations

from pathlib import Path

import click

from minim.cli.options import codebase_argument

STATUS_WORDS = {
    "written": "wrote",
    "present": "already present (verified)",
    "downloaded": "downloaded (sha256 verified)",
    "cached": "copied from the cache (sha256 verified)",
}
DATASET_STATUS_WORDS = {
    "present": "already present (checksum verified)",
    "downloaded": "downloaded (checksum verified)",
    "extracted": "extracted",
    "laid out": "laid out",
    "config": "wrote the ready config",
    "ready": "already prepared; its config is",
}


@click.command("download")
@codebase_argument
@click.option("--config", "configs", multiple=True, metavar="NAME",
              help="Config name or alias from the index (repeatable).")
@click.option("--dataset", metavar="NAME",
              help="Dataset from the dataset index (see 'minim search CODEBASE --dataset-index'): downloaded, "
                   "verified, unpacked into DEST and given a ready config DEST/NAME.py.")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="Folder to write the config and weights (or the dataset) into.")
@click.option("--no-weights", is_flag=True, help="Write the config only.")
@click.option("--overwrite", is_flag=True, help="Replace existing files (a dataset: unpack and lay it out again).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--mirror", metavar="SPEC",
              help="Mirror for weight and dataset URLs: 'ORIGIN_PREFIX=MIRROR_PREFIX[,...]' (env MINIM_MIRROR).")
def command(codebase, configs, dataset, dest, no_weights, overwrite, quiet, mirror):
    """Download flattened configs (no _base_ left) and checksum-verified weights, or a dataset.

    \b
    Examples:
      minim download cls --config mobilenet-v2 --dest .
      minim download cls --config resnet50 --config vit-b-16 --dest models --no-weights
      minim download cls --dataset imagenette-160 --dest data/imagenette && minim train cls data/imagenette/imagenette-160.py
    """
    if not configs and not dataset:
        from minim.errors import UsageError

        raise UsageError("give --config NAME (a model) or --dataset NAME (a dataset)")
    if configs:
        _download_configs(codebase, configs, dest, no_weights, overwrite, quiet, mirror)
    if dataset:
        _download_dataset(codebase, dataset, dest, overwrite, quiet, mirror)


def _download_dataset(codebase, name, dest, overwrite, quiet, mirror):
    from minim.dataset_download import download_dataset
    from minim.index.datasets import load_dataset_index

    entry = load_dataset_index(codebase.name).resolve(name)

    def report(status, path):
        if not quiet:
            click.echo(f"{entry.name}: {DATASET_STATUS_WORDS.get(status, status)} {path}", err=True)

    config = download_dataset(entry, dest, overwrite=overwrite, progress="none" if quiet else "auto",
                              mirror=mirror, report=report)
    if not quiet:
        click.echo(f"train on it with: minim train {codebase.name} {config}", err=True)


def _download_configs(codebase, configs, dest, no_weights, overwrite, quiet, mirror):
    from minim.index import load_index
    from minim.model_download import download_models

    index = load_index(codebase.name)
    entries = list({id(e): e for e in (index.resolve(name) for name in configs)}.values())

    def report(entry, outcome):
        if quiet:
            return
        if outcome.status == "no config":
            click.echo(f"{entry.name}: published as weights only, so no config is written", err=True)
        else:
            click.echo(f"{entry.name}: {STATUS_WORDS.get(outcome.status, outcome.status)} {outcome.path}", err=True)

    download_models(entries, dest, weights=not no_weights, overwrite=overwrite,
                    progress="none" if quiet else "auto", mirror=mirror, report=report)
