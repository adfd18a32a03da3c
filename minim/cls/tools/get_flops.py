"""``minim run cls get_flops CONFIG [--shape 224 [224]]``: parameters and FLOPs of a model."""

from __future__ import annotations

import click

from minim.cli.options import HELP, MultiValueCommand, cfg_options_option


@click.command("get_flops", cls=MultiValueCommand, multi_value_options=("--shape",), context_settings=HELP)
@click.argument("config")
@click.option("--shape", type=int, multiple=True, metavar="H [W]", help="Input size (default 224 224).")
@click.option("--by-operator", is_flag=True, help="Also list the FLOPs of each operator type.")
@cfg_options_option
def command(config, shape, by_operator, cfg_options):
    """Count the parameters and FLOPs of CONFIG's model on one image (random weights, nothing downloaded).

    FLOPs come from torch.utils.flop_counter (1 multiply-add = 2 FLOPs; convolutions and matrix products
    only). mmcv/mmcls printed multiply-accumulates (MACs) as "Flops"; both are shown.

    \b
    Examples:
      minim run cls get_flops resnet50_8xb32_in1k
      minim run cls get_flops my_config.py --shape 384
      minim run cls get_flops my_config.py --shape 224 320
    """
    from minim.cls.analysis.complexity import (  # lazy: torch; `minim run cls --list` imports it
        config_complexity,
        format_count,
    )

    result = config_complexity(config, shape, cfg_options)
    line = "=" * 40
    click.echo(line)
    click.echo(f"Input shape: {result.input_shape}")
    click.echo(f"FLOPs: {format_count(result.flops, 'FLOPs')}  (torch flop counter; 1 multiply-add = 2 FLOPs)")
    click.echo(f"MACs:  {format_count(result.macs, 'MACs')}  (= what mmcv/mmcls printed as \"Flops\")")
    click.echo(f"Params: {result.params / 1e6:.3f} M")
    click.echo(line)
    if by_operator:
        for op, flops in sorted(result.by_operator.items(), key=lambda item: -item[1]):
            click.echo(f"  {op:<24} {format_count(flops, 'FLOPs')}")
    click.echo("Counted: convolutions and matrix products of the whole forward pass, classifier head included; "
               "norms, activations and pooling are not counted.")
