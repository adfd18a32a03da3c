"""``minim run cls print_config CONFIG``: print the fully resolved, flattened config."""

from __future__ import annotations

import json

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import warning_line
from minim.index.configs import load_config_arg


@click.command("print_config", cls=MultiValueCommand, context_settings=HELP)
@click.argument("config")
@cfg_options_option
@click.option("--json", "as_json", is_flag=True, help="Print the config as JSON instead of Python.")
def command(config, cfg_options, as_json):
    """Print CONFIG (a file or an index name) with every _base_ merged and overrides applied.

    \b
    Examples:
      minim run cls print_config mobilenet-v2_8xb32_in1k
      minim run cls print_config my_config.py --cfg-options model.head.num_classes=10 optimizer.lr=0.01
      minim run cls print_config my_config.py --json > my_config.json
    """
    cfg = load_config_arg("cls", config, cfg_options)
    for warning in cfg.warnings:
        click.echo(warning_line(warning), err=True)
    if as_json:
        click.echo(json.dumps(cfg.to_dict(), indent=2))
    else:
        click.echo(cfg.dump(), nl=False)
