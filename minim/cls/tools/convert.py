"""``minim run cls convert IN OUT [--to minim|torchvision|timm|safetensors] [--config CFG]``."""

from __future__ import annotations

import click

from minim.cli.options import HELP
from minim.cls.analysis.convert import convert_checkpoint


@click.command("convert", context_settings=HELP)
@click.argument("in_file", metavar="IN")
@click.argument("out_file", metavar="OUT")
@click.option("--to", "target", default="minim", show_default=True, metavar="minim|torchvision|timm|safetensors",
              help="Layout to write: minim's, a plain torchvision or timm state dict, or IN's own layout as "
                   "safetensors.")
@click.option("--config", default=None, metavar="CFG", help="Config (file or index name) of IN's model (default: "
              "the config text IN's meta holds; needed for plain torchvision/timm inputs).")
def command(in_file, out_file, target, config):
    """Convert a checkpoint between minim/mmcls and plain torchvision/timm layouts, or to safetensors.

    OUT ending with .safetensors writes a safetensors file (any layout), else a torch.save file.
    A plain file loads into torchvision.models.get_model(ARCH, num_classes=N) or timm.create_model(NAME,
    num_classes=N) as it is; --to minim (with --config) turns it back into the same minim checkpoint.

    \b
    Examples:
      minim run cls convert work_dirs/r18/latest.pth r18_tv.pth --to torchvision
      minim run cls convert r18_tv.pth r18_minim.pth --to minim --config work_dirs/r18/r18.py
      minim run cls convert mmcls_resnet50.pth resnet50.safetensors --to safetensors
    """
    result = convert_checkpoint(in_file, out_file, to=target, config=config)
    layout = "IN's layout as safetensors" if result.target == "safetensors" else \
        f"{result.target} layout from {result.backbone}"
    click.echo(f"wrote {result.path} ({layout}, {result.tensors} tensors)")
