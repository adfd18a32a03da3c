"""``minim infer CODEBASE CONFIG|MODEL.onnx|MODEL.pt IMAGE_OR_DIR...``: classify images."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option, codebase_argument


@click.command("infer", cls=MultiValueCommand, context_settings=HELP)
@codebase_argument
@click.argument("config", metavar="CONFIG|EXPORTED")
@click.argument("images", nargs=-1, required=True, metavar="IMAGE_OR_DIR...")
@click.option("--checkpoint", metavar="CKPT", help="Checkpoint file or URL (default: the index entry's weights, if any).")
@click.option("--topk", type=click.IntRange(min=1), default=5, show_default=True, help="How many classes to show per image.")
@click.option("--batch-size", type=click.IntRange(min=1),
              help="Images per forward pass (default: for 256 images or more the size measured fastest, at most 32, "
                   "remembered per model and device; else 32; an exported model without a dynamic batch axis takes "
                   "one at a time).")
@click.option("--device", help="auto (default), cpu, cuda, cuda:N or mps.")
@click.option("--json", "as_json", is_flag=True, help="Print the predictions as JSON.")
@click.option("--show-dir", type=click.Path(file_okay=False), help="Write each image annotated with its prediction here.")
@cfg_options_option
def command(codebase, config, images, checkpoint, topk, batch_size, device, as_json, show_dir, cfg_options):
    """Print the top-k classes of each image (folders are searched recursively).

    CONFIG is a config file or index name (with --checkpoint), or a model that `minim run cls pytorch2onnx`
    or `pytorch2torchscript` exported (.onnx, .pt): it carries its class names and preprocessing, so it needs
    neither config nor checkpoint (.onnx runs with onnxruntime: pip install 'minim[onnx]').

    \b
    Examples:
      minim infer cls work_dirs/mobilenet-v2_digits/mobilenet-v2_digits.py digit.png \\
          --checkpoint work_dirs/mobilenet-v2_digits/latest.pth --topk 3
      minim infer cls model.onnx digit.png
    """
    codebase.engine_function("infer")(
        config,
        list(images),
        checkpoint,
        topk=topk,
        device=device,
        as_json=as_json,
        show_dir=show_dir,
        cfg_options=list(cfg_options),
        batch_size=batch_size,
    )
