"""``minim list``: the environment (Python, pip, torch builds, GPU) and the codebases minim knows."""

from __future__ import annotations

import json

import click


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the information as JSON.")
@click.option("--python", "python", metavar="PATH", help="Interpreter or venv folder to inspect (default: this one).")
def command(as_json, python):
    """Show Python, pip, torch/torchvision/torchaudio and their builds, the GPU, and the codebases.

    Nothing here imports torch: versions and builds come from package metadata and
    torch's version.py, the GPU from nvidia-smi.
    """
    from minim.packages.listing import environment_info

    info = environment_info(python)
    if as_json:
        click.echo(json.dumps(info, indent=2))
        return
    from minim.packages.render import console, environment_tables

    out = console()
    for table in environment_tables(info):
        out.print(table)
