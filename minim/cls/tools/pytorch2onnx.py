"""``minim run cls pytorch2onnx CONFIG --checkpoint CKPT --output-file model.onnx``: ONNX export."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import warning_line


@click.command("pytorch2onnx", cls=MultiValueCommand, multi_value_options=("--shape",), context_settings=HELP)
@click.argument("config")
@click.option("--checkpoint", default=None, metavar="CKPT", help="Weights to export (default: the index entry's weights).")
@click.option("--output-file", required=True, metavar="FILE.onnx", help="ONNX file to write.")
@click.option("--shape", type=int, multiple=True, metavar="H [W]",
              help="Input size (default: what the test pipeline outputs, else 224 224).")
@click.option("--opset-version", type=int, default=None, help="ONNX opset (default 17; 18 with the dynamo exporter).")
@click.option("--dynamic-export", is_flag=True, help="Dynamic batch size (and height/width with the legacy exporter).")
@click.option("--exporter", type=click.Choice(["auto", "dynamo", "legacy"]), default="auto", show_default=True,
              help="torch.onnx exporter: dynamo (needs onnxscript) or legacy (TorchScript); auto picks dynamo "
                   "when onnxscript is installed.")
@click.option("--verify", is_flag=True, help="Compare the ONNX model's scores with PyTorch's (needs onnxruntime).")
@cfg_options_option
def command(config, checkpoint, output_file, shape, opset_version, dynamic_export, exporter, verify, cfg_options):
    """Export CONFIG's classifier: input 'input' (N x 3 x H x W, normalised), output 'probs' (softmax scores).

    The file describes itself: class names, input size, mean/std, channel order and the test pipeline are
    stored as JSON in its metadata_props under 'minim.export', so `minim infer cls model.onnx IMG` needs
    no config.

    \b
    Example:
      minim run cls pytorch2onnx my_cfg.py --checkpoint latest.pth --output-file model.onnx --dynamic-export --verify
    """
    from minim.cls.analysis import onnx_export  # lazy: torch; `minim run cls --list` imports it
    from minim.cls.analysis.export_metadata import (  # lazy: torch; `minim run cls --list` imports it
        describe_model,
        export_input_shape,
    )

    model, weights = onnx_export.load_classifier(config, checkpoint, cfg_options)
    if weights is None:
        click.echo(warning_line("no --checkpoint and no index weights: exporting random weights"), err=True)
    size = export_input_shape(shape, model.cfg)
    description = describe_model(model, size, dynamic_batch=dynamic_export, input_name=onnx_export.INPUT_NAME,
                                 output_name=onnx_export.OUTPUT_NAME)
    path, kind, opset = onnx_export.export_onnx(model, output_file, size, opset_version=opset_version,
                                                dynamic=dynamic_export, exporter=exporter, description=description)
    click.echo(f"wrote {path} (input {onnx_export.INPUT_NAME!r} 1x{'x'.join(map(str, size))}, output "
               f"{onnx_export.OUTPUT_NAME!r}, opset {opset}, {kind} exporter"
               f"{', dynamic batch' if dynamic_export else ''}, {len(model.CLASSES)} class names and the test "
               "pipeline in its metadata)")
    if not verify:
        return
    if not onnx_export.onnxruntime_available():
        click.echo(f"verification skipped: onnxruntime is not installed ({onnx_export.ORT_HINT})", err=True)
        return
    result = onnx_export.verify_onnx(model, path, size, dynamic=dynamic_export)
    shapes = ", ".join("x".join(map(str, s)) for s in result.shapes)
    click.echo(f"verified with onnxruntime {result.onnxruntime_version}: the ONNX and PyTorch scores match "
               f"(max abs difference {result.max_abs_diff:.2e} on inputs {shapes})")
