"""``minim list``: the environment (Python, pip, torch builds, GPU) and the codebases minim knows."""

from __future__ import annotations

import json

import click


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the information as JSON.")
@click.option("--all", "everything", is_flag=True, help="List every installed distribution, not only the ones "
              "that matter to minim (OpenMMLab packages, the torch family, timm and other backends).")
@click.option("--python", "python", metavar="PATH", help="Interpreter or venv folder to inspect (default: this one).")
def command(as_json, everything, python):
    """Show Python, pip, torch/torchvision/torchaudio and their builds, the GPU, the packages that matter
    (OpenMMLab's, the torch family, timm, ...) with version, build and source, and the codebases.

    Nothing here imports torch: versions and builds come from package metadata and
    torch's version.py, the GPU from nvidia-smi.

    \b
    Examples:
      minim list                                # the packages that matter, with build and source
      minim list --all                          # every installed distribution
      minim list --json --python .venv | jq '.packages[] | .name + " " + .version'
    """
    from minim.cli.options import json_errors
    from minim.packages.listing import environment_info

    with json_errors(as_json):
        info = environment_info(python, everything=everything)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    from minim.packages.render import console, environment_tables

    out = console()
    for table in environment_tables(info):
        out.print(table)
