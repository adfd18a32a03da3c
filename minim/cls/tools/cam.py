"""``minim run cls cam CONFIG IMG... --checkpoint CKPT --out-dir DIR``: Grad-CAM heat maps."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option
from minim.errors import warning_line


@click.command("cam", cls=MultiValueCommand, context_settings=HELP)
@click.argument("config")
@click.argument("images", nargs=-1, required=True, metavar="IMG...")
@click.option("--checkpoint", default=None, metavar="CKPT", help="Weights (default: the index entry's weights).")
@click.option("--out-dir", required=True, metavar="DIR", help="Folder for the <image>_cam.png overlays.")
@click.option("--target-layer", default=None, metavar="NAME",
              help="Module path, e.g. backbone.layer4 or backbone.layers.-1.ln1 (default: chosen per architecture).")
@click.option("--target-class", default=None, metavar="C", help="Class index or name (default: the predicted class).")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available).")
@cfg_options_option
def command(config, images, checkpoint, out_dir, target_layer, target_class, device, cfg_options):
    """Grad-CAM heat maps of images (files or folders) overlaid on each image as the model sees it, for CNNs
    and transformers (ViT, DeiT, Swin, ...).

    The layer is chosen per architecture unless --target-layer names one; the class is the predicted one
    unless --target-class names one. Each image gives DIR/<name>_cam.png.

    \b
    Examples:
      minim run cls cam my_config.py cat.jpg --checkpoint latest.pth --out-dir cams
      minim run cls cam deit-tiny_pt-4xb256_in1k cat.jpg --out-dir cams --target-class 281
      minim run cls cam my_config.py photos/ --checkpoint latest.pth --out-dir cams --target-layer backbone.layer3
    """
    from minim.cls.analysis.cam import cam_files  # lazy: torch; `minim run cls --list` imports it
    from minim.cls.analysis.onnx_export import load_classifier  # lazy: torch; `minim run cls --list` imports it
    from minim.cls.engine.device import resolve_device  # lazy: torch; `minim run cls --list` imports it

    model, weights = load_classifier(config, checkpoint, cfg_options, device=resolve_device(device))
    if weights is None:
        click.echo(warning_line("no --checkpoint and no index weights: the heat maps are of random weights"),
                   err=True)
    for image, png, result in cam_files(model, images, out_dir, target_layer, target_class):
        click.echo(f"{png}  {result.class_name} ({result.score * 100:.1f}%)  [{image}]")
    click.echo(f"target layer: {result.target_layer}")
