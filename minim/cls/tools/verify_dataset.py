"""``minim run cls verify_dataset CONFIG``: list the images of train/val/test that cannot be read."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.progress import Progress

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import DataError
from minim.index.configs import load_config_arg


@click.command("verify_dataset", cls=MultiValueCommand, multi_value_options=("--split",), context_settings=HELP)
@click.argument("config")
@click.option("--split", "splits", multiple=True, type=click.Choice(["train", "val", "test"]), metavar="SPLIT...",
              help="Splits to check: train val test (default: all in the config).")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Decoding threads (default: CPUs, at most 8).")
@cfg_options_option
def command(config, splits, workers, cfg_options):
    """Decode every image of CONFIG's datasets and list the unreadable ones (exit status 1 if any).

    \b
    Example:
      minim run cls verify_dataset my_cfg.py --split train val --workers 8
    """
    from minim.cls.analysis.verify import verify_datasets  # lazy: torch; `minim run cls --list` imports it

    cfg = load_config_arg("cls", config, cfg_options)
    with _Progress() as (advance, on_files):
        reports = verify_datasets(cfg, list(splits), workers, advance=advance, on_files=on_files)
    bad_total, files = 0, set()
    for report in reports:
        files.update(report.files)
        bad_total += len(report.bad)
        what = f"{len(report.files)} images"
        if report.in_memory:
            what += f" (+ in-memory {', '.join(report.in_memory)}: no image files to check)"
        status = f"{len(report.bad)} unreadable" if report.bad else "all readable"
        click.echo(f"data.{report.split}: {what}, {status}")
        for path, reason in report.bad:
            click.echo(f"  {path}: {reason}")
    if bad_total:
        bad_files = {path for report in reports for path, _ in report.bad}
        raise DataError(f"{len(bad_files)} of {len(files)} image files cannot be read",
                        hint="remove or replace them before training")


class _Progress:
    """A rich progress bar on a terminal's stderr; no-ops otherwise."""

    def __enter__(self):
        self.bar = None
        if sys.stderr.isatty():
            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("verifying images", total=None)
            return (lambda n: self.bar.advance(self.task, n)), (lambda total: self.bar.update(self.task, total=total))
        return None, None

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
