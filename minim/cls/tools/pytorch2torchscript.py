"""``minim run cls pytorch2torchscript CONFIG --checkpoint CKPT --output-file model.pt``: TorchScript export."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import warning_line


@click.command("pytorch2torchscript", cls=MultiValueCommand, multi_value_options=("--shape",), context_settings=HELP)
@click.argument("config")
@click.option("--checkpoint", default=None, metavar="CKPT",
              help="Weights to export (default: the index entry's weights).")
@click.option("--output-file", required=True, metavar="FILE.pt",
              help="TorchScript file to write (.pt, .ts, .torchscript).")
@click.option("--shape", type=int, multiple=True, metavar="H [W]",
              help="Input size to trace with (default: what the test pipeline outputs, else 224 224).")
@click.option("--verify", is_flag=True, help="Compare the saved module's scores with PyTorch's.")
@cfg_options_option
def command(config, checkpoint, output_file, shape, verify, cfg_options):
    """Trace CONFIG's classifier: N x 3 x H x W normalised images in, softmax scores out.

    The file describes itself: class names, input size, mean/std, channel order and the test pipeline
    are stored as JSON in the extra file 'minim.export', so `minim infer cls model.pt IMG` needs no config.

    \b
    Example:
      minim run cls pytorch2torchscript my_cfg.py --checkpoint latest.pth --output-file model.pt --verify
    """
    from minim.cls.analysis.export_metadata import (  # lazy: torch; `minim run cls --list` imports it
        describe_model,
        export_input_shape,
    )
    from minim.cls.analysis.onnx_export import load_classifier  # lazy: torch; `minim run cls --list` imports it
    from minim.cls.analysis.torchscript_export import (  # lazy: torch; `minim run cls --list` imports it
        export_torchscript,
        verify_torchscript,
    )

    model, weights = load_classifier(config, checkpoint, cfg_options)
    if weights is None:
        click.echo(warning_line("no --checkpoint and no index weights: exporting random weights"), err=True)
    size = export_input_shape(shape, model.cfg)
    path = export_torchscript(model, output_file, size, description=describe_model(model, size, dynamic_batch=True))
    click.echo(f"wrote {path} (traced on 1x{'x'.join(map(str, size))}, {len(model.CLASSES)} class names and the "
               "test pipeline in its extra file 'minim.export')")
    if verify:
        diff = verify_torchscript(model, path, size)
        click.echo(f"verified: the TorchScript and PyTorch scores match (max abs difference {diff:.2e})")
