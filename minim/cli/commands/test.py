"""``minim test CODEBASE CONFIG --checkpoint CKPT``: evaluate a checkpoint on the test set."""

from __future__ import annotations

import click

from minim.cli.launch_options import LaunchCommand, launch_if_requested, launcher_options
from minim.cli.options import HELP, cfg_options_option, codebase_argument


@click.command("test", cls=LaunchCommand, multi_value_options=("--metrics", "--out-items"), context_settings=HELP)
@codebase_argument
@click.argument("config")
@click.option("--checkpoint", metavar="CKPT", help="Checkpoint file or URL (default: the index entry's weights, if any).")
@click.option("--metrics", multiple=True, metavar="METRIC...",
              help="accuracy, precision, recall, f1_score, support (default: the config's evaluation.metric).")
@click.option("--metric-options", multiple=True, metavar="KEY=VALUE...",
              help="e.g. topk='(1,5)' thrs=0.5 average_mode=none")
@click.option("--out", type=click.Path(dir_okay=False),
              help="Write metrics and per-image predictions: FILE.json (minim's layout) or FILE.pkl (mmcls's).")
@click.option("--out-items", multiple=True, metavar="ITEM...",
              help="Predictions to write: class_scores pred_score pred_label pred_class, all (default) or none.")
@click.option("--device", help="auto (default), cpu, cuda, cuda:N or mps.")
@cfg_options_option
@launcher_options
@click.pass_context
def command(ctx, codebase, config, checkpoint, metrics, metric_options, out, out_items, device, cfg_options, **launch):
    """Evaluate CONFIG's model with CHECKPOINT on the config's data.test.

    \b
    Examples:
      minim test cls work_dirs/mobilenet-v2_digits/mobilenet-v2_digits.py \\
          --checkpoint work_dirs/mobilenet-v2_digits/latest.pth --metrics accuracy f1_score --out results.json
      minim test cls CONFIG --checkpoint CKPT --launcher pytorch --gpus 2   # same metrics, 2 processes
    """
    mode = launch_if_requested(ctx, codebase, "test", config, dict(launch), device)
    if mode == "launched":
        return
    codebase.engine_function("test")(
        config,
        checkpoint,
        metrics=list(metrics) or None,
        metric_options=list(metric_options) or None,
        out=out,
        out_items=list(out_items) or None,
        device=device if launch["gpus"] != 0 else "cpu",
        cfg_options=list(cfg_options),
        launcher=launch["launcher_worker"] or "none",
    )
