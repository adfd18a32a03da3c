"""``minim run cls confusion_matrix CONFIG --checkpoint CKPT``: confusion matrix on data.test as PNG/CSV."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import UsageError


@click.command("confusion_matrix", cls=MultiValueCommand, context_settings=HELP)
@click.argument("config", required=False)
@click.option("--checkpoint", default=None, metavar="CKPT", help="Checkpoint to test (default: the index entry's weights).")
@click.option("--results", default=None, metavar="FILE.json",
              help="Use a `minim test --out` file instead of running the model (CONFIG not needed).")
@click.option("--out", default=None, metavar="FILE.png", help="Plot to write (.png, .pdf or .svg).")
@click.option("--csv", "csv_file", default=None, metavar="FILE.csv", help="CSV file to write (header row of classes).")
@click.option("--show-values", is_flag=True, help="Write the count (or fraction) in every cell of the plot.")
@click.option("--normalize", is_flag=True, help="Plot each true class's row as fractions.")
@click.option("--cmap", default="Blues", show_default=True, help="matplotlib colour map of the plot.")
@click.option("--title", default=None, help="Plot title.")
@click.option("--device", default=None, help="cpu, cuda, cuda:1, mps (default: best available).")
@cfg_options_option
def command(config, checkpoint, results, out, csv_file, show_values, normalize, cmap, title, device, cfg_options):
    """Confusion matrix of a checkpoint on the config's test set (rows: true class, columns: prediction).

    Without --out or --csv the CSV is printed.

    \b
    Examples:
      minim run cls confusion_matrix my_config.py --checkpoint work_dirs/my_config/latest.pth --out cm.png --csv cm.csv
      minim run cls confusion_matrix --results test_results.json --out cm.png --show-values
    """
    from minim.cls.analysis import confusion as cm  # lazy: torch; `minim run cls --list` imports it

    cm.check_outputs(out, csv_file, cmap)
    if results is not None:
        matrix = cm.confusion_from_results(results)
    elif config is None:
        raise UsageError("give CONFIG (with --checkpoint) or --results FILE.json")
    else:
        matrix = cm.confusion_from_model(config, checkpoint, cfg_options, device)
    if out is None and csv_file is None:
        click.echo(cm.confusion_csv(matrix), nl=False)
        return
    if csv_file is not None:
        click.echo(f"wrote {cm.write_confusion_csv(matrix, csv_file)}")
    if out is not None:
        path = cm.plot_confusion(matrix, out, show_values=show_values, normalize=normalize, cmap=cmap, title=title)
        click.echo(f"wrote {path}")
    click.echo(f"top-1 accuracy {matrix.accuracy:.2f}% over {int(matrix.matrix.sum())} images, "
               f"{len(matrix.classes)} classes")
