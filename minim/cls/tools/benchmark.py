"""``minim run cls benchmark NAME|CONFIG... [--batch-size 1 32]``: inference speed measured on this machine."""

from __future__ import annotations

import json
from dataclasses import asdict

import click

from minim.cli.options import HELP, MultiValueCommand
from minim.cli.render import print_table


@click.command("benchmark", cls=MultiValueCommand, multi_value_options=("--batch-size",), context_settings=HELP)
@click.argument("models", nargs=-1, required=True, metavar="NAME|CONFIG...")
@click.option("--batch-size", "batch_sizes", type=int, multiple=True, metavar="N...", help="Batch sizes (default 1).")
@click.option("--device", default=None, help="cpu, cuda, cuda:1 (default: cuda when available).")
@click.option("--amp", is_flag=True, help="Mixed precision: fp16 autocast on CUDA, bf16 on the CPU.")
@click.option("--channels-last", is_flag=True, help="NHWC model and inputs.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True, help="Untimed runs first.")
@click.option("--min-runs", type=click.IntRange(min=1), default=10, show_default=True, help="Timed runs at least.")
@click.option("--min-seconds", type=click.FloatRange(min=0), default=1.0, show_default=True,
              help="Seconds of timed runs at least (at most 200 runs).")
@click.option("--no-cache", is_flag=True, help="Measure again even when the cache holds a result (and update it).")
@click.option("--json", "as_json", is_flag=True, help="Print the results as a JSON list instead of a table.")
def command(models, batch_sizes, device, amp, channels_last, warmup, min_runs, min_seconds, no_cache, as_json):
    """Inference latency, throughput and peak memory of models measured on this machine (cached).

    Each model (index name or config) is built with random weights and timed at each batch size: latency is
    the median and 90th percentile of one forward pass, throughput the images per second at the median,
    peak memory CUDA's max_memory_allocated or, on the CPU, the weights plus the resident-memory growth.
    Results are cached under $MINIM_HOME/benchmarks per model, batch, input size, device, amp,
    channels-last, torch version and CPU/GPU name.

    \b
    Examples:
      minim run cls benchmark resnet18_8xb32_in1k mobilenet-v2_8xb32_in1k --batch-size 1 32
      minim run cls benchmark my_config.py --device cuda --amp --channels-last --json
    """
    from minim.cls.analysis.benchmark import COLUMNS, table_rows  # lazy: torch; `minim run cls --list` imports it
    from minim.cls.commands.benchmarking import benchmark  # lazy: numpy; `minim run cls --list` imports it

    results = benchmark(models, batch_sizes or (1,), device, amp, channels_last, use_cache=not no_cache,
                        warmup=warmup, min_runs=min_runs, min_seconds=min_seconds)
    if as_json:
        click.echo(json.dumps([asdict(r) for r in results], indent=2))
        return
    first = results[0]
    title = (f"{first.device_name} ({first.device}), torch {first.torch_version}"
             f"{', amp' if amp else ''}{', channels-last' if channels_last else ''}")
    print_table([header for header, _ in COLUMNS], table_rows(results), title=title)
