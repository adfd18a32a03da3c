"""``minim run cls make_index_entry CONFIG --checkpoint PUBLISHED.pth --name NAME --url URL``."""

from __future__ import annotations

import json

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import UsageError


@click.command("make_index_entry", cls=MultiValueCommand, multi_value_options=("--alias",), context_settings=HELP)
@click.argument("config")
@click.option("--checkpoint", required=True, metavar="PUBLISHED.pth", help="The published checkpoint file.")
@click.option("--name", required=True, help="Model name in the index (letters, digits, . _ + -).")
@click.option("--alias", "aliases", multiple=True, metavar="ALIAS...", help="Short names for the model.")
@click.option("--url", required=True, help="http(s) URL the checkpoint is served from.")
@click.option("--collection", default=None, help="Architecture family (default: from the backbone).")
@click.option("--dataset", default=None, help="Dataset name (default: from data.train).")
@click.option("--top1", type=float, default=None, help="Top-1 accuracy in percent (default: the checkpoint's best).")
@click.option("--top5", type=float, default=None, help="Top-5 accuracy in percent.")
@click.option("--input-size", type=int, default=None, help="Test image size (default: from data.test.pipeline).")
@click.option("--source", default=None, help="Where the weights and numbers come from.")
@click.option("--index", "index_file", default=None, metavar="FILE.json",
              help="Add (or update) the entry in this index file and copy the config next to it.")
@cfg_options_option
def command(config, checkpoint, name, aliases, url, collection, dataset, top1, top5, input_size, source, index_file,
            cfg_options):
    """Build a model-index entry for a published checkpoint of CONFIG's model and print it.

    The checkpoint must load into the model. With --index the entry goes into a private index file
    (created when missing; the flattened config is written to configs/NAME.py next to it). Use that
    file through MINIM_INDEX_PATH:

    \b
      minim run cls make_index_entry my_cfg.py --checkpoint r18_flowers-1a2b3c4d.pth --name r18_flowers \\
          --url https://example.com/models/r18_flowers-1a2b3c4d.pth --index team_index/index.json
      MINIM_INDEX_PATH=team_index/index.json minim search cls --model r18_flowers
    """
    from minim.cls.analysis.index_entry import (  # lazy: torch; `minim run cls --list` imports it
        add_to_index,
        entry_for_checkpoint,
    )

    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url {url!r}: expected the http(s) URL the checkpoint is served from")
    entry, cfg = entry_for_checkpoint(config, checkpoint, name, url, aliases=aliases, collection=collection,
                                      dataset=dataset, top1=top1, top5=top5, size=input_size, source=source,
                                      cfg_options=cfg_options)
    if index_file is not None:  # first: a refused index file prints no entry
        status = add_to_index(index_file, entry, cfg)
        click.echo(f"{status} {name!r} in {index_file} (config: configs/{name}.py next to it)", err=True)
    click.echo(json.dumps(entry, indent=2))
