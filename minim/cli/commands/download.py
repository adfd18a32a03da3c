"""``minim download CODEBASE --config NAME ... --dest DIR``."""

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


@click.command("download")
@codebase_argument
@click.option("--config", "configs", multiple=True, required=True, metavar="NAME",
              help="Config name or alias from the index (repeatable).")
@click.option("--dest", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True,
              help="Folder to write the config and weights into.")
@click.option("--no-weights", is_flag=True, help="Write the config only.")
@click.option("--overwrite", is_flag=True, help="Replace existing files.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--mirror", metavar="SPEC",
              help="Mirror for weight URLs: 'ORIGIN_PREFIX=MIRROR_PREFIX[,...]' (env MINIM_MIRROR).")
def command(codebase, configs, dest, no_weights, overwrite, quiet, mirror):
    """Download flattened configs (no _base_ left) and checksum-verified weights.

    \b
    Examples:
      minim download cls --config mobilenet-v2 --dest .
      minim download cls --config resnet50 --config vit-b-16 --dest models --no-weights
    """
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
