"""``minim run cls analyze_logs {plot_curve,cal_train_time} LOG.json...``: curves and train time of JSON logs."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand
from minim.cls.analysis.curves import parse_window_size, plot_curves
from minim.runlogs import load_json_logs, train_time


@click.group("analyze_logs", context_settings=HELP)
def command():
    """Plot training curves or compute training time from <work_dir>/<timestamp>.log.json files."""


@command.command("plot_curve", cls=MultiValueCommand, multi_value_options=("--keys", "--legend"),
                 context_settings=HELP)
@click.argument("json_logs", nargs=-1, required=True, metavar="LOG.json...")
@click.option("--keys", multiple=True, default=("loss",), show_default=True, metavar="KEY...",
              help="Keys to plot (train keys over iterations, val keys over epochs; 'val/loss' picks the val one).")
@click.option("--legend", multiple=True, metavar="NAME...", help="Line names: one per log, or one per log and key.")
@click.option("--title", default=None, help="Figure title.")
@click.option("--out", required=True, metavar="FILE.png", help="Image to write (.png, .pdf or .svg).")
@click.option("--window-size", default=None, metavar="W*H", help="Figure size in inches, e.g. 12*7.")
def plot_curve(json_logs, keys, legend, title, out, window_size):
    """Plot KEYS of one or more JSON logs into an image, one panel per key.

    \b
    Example:
      minim run cls analyze_logs plot_curve work_dirs/r18/*.log.json --keys loss accuracy_top-1 --out curves.png
    """
    logs = load_json_logs(json_logs)
    path = plot_curves(logs, list(keys), out, legend=list(legend) or None, title=title,
                       window_size=parse_window_size(window_size))
    click.echo(f"wrote {path}")


@command.command("cal_train_time", context_settings=HELP)
@click.argument("json_logs", nargs=-1, required=True, metavar="LOG.json...")
@click.option("--include-outliers", is_flag=True,
              help="Also count the first record of each epoch (skipped by default: it includes loader start-up).")
def cal_train_time(json_logs, include_outliers):
    """Print the slowest / fastest epoch, the spread over epochs and the average time per iteration.

    \b
    Examples:
      minim run cls analyze_logs cal_train_time work_dirs/my_config/20261207_101500.log.json
      minim run cls analyze_logs cal_train_time work_dirs/*/*.log.json --include-outliers
    """
    for log in load_json_logs(json_logs):
        stats = train_time(log, include_outliers)
        click.echo(f"-----Analyze train time of {stats.path}-----")
        click.echo(f"slowest epoch {stats.slowest_epoch}, average time is {stats.slowest_time:.4f} s/iter")
        click.echo(f"fastest epoch {stats.fastest_epoch}, average time is {stats.fastest_time:.4f} s/iter")
        click.echo(f"time std over epochs is {stats.std_over_epochs:.4f}")
        click.echo(f"average iter time: {stats.average:.4f} s/iter")
