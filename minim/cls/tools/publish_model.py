"""``minim run cls publish_model IN.pth OUT.pth``: strip training state, name the file after its SHA-256."""

from __future__ import annotations

import json

import click

from minim.cli.options import HELP


@click.command("publish_model", context_settings=HELP)
@click.argument("in_file", metavar="IN.pth")
@click.argument("out_file", metavar="OUT.pth|OUT.safetensors")
@click.option("--date", "with_date", is_flag=True, help="Name it <OUT stem>_<YYYYMMDD>-<hash8>.pth, as mmcls did.")
@click.option("--config", default=None, help="The config's path in the printed index entry, relative to the index "
              "folder (e.g. configs/my_model.py).")
@click.option("--base-url", default=None, metavar="URL", help="Where the file will be served (for the entry's url).")
@click.option("--dataset", default=None, help="Dataset name for the entry's metadata.")
def command(in_file, out_file, with_date, config, base_url, dataset):
    """Write IN's weights and meta (no optimizer/scheduler state) as <OUT stem>-<sha256[:8]>.pth
    (or .safetensors when OUT ends with .safetensors: no pickle, the meta as JSON metadata).

    The name carries the hash where torch.hub and `minim download` check it. An index entry for the
    file is printed; `make_index_entry` builds a complete one (parameters, FLOPs) and can add it to an
    index file.

    \b
    Example:
      minim run cls publish_model work_dirs/r18/best_accuracy_top-1_epoch_9.pth release/r18_flowers.pth \\
          --base-url https://example.com/models
    """
    from minim.cls.analysis import index_entry, publish  # lazy: torch; `minim run cls --list` imports it

    folder, stem = publish.out_stem(out_file)
    index_entry.check_name(stem, "OUT name")
    if base_url is not None:
        index_entry.weights_url("x.pth", base_url)  # reject a bad URL before writing anything
    if config is not None:
        index_entry.check_entry_config(config)  # the printed entry's config path: checked before writing too
    result = publish.publish_checkpoint(in_file, out_file, with_date=with_date)
    if result.dropped:
        click.echo(f"dropped training state: {', '.join(result.dropped)}", err=True)
    click.echo(f"wrote {result.path} ({result.size / 1e6:.2f} MB, sha256 {result.sha256})", err=True)
    metadata = {"dataset": dataset or "unknown", **index_entry.metadata_from_meta(result.meta)}
    entry = index_entry.build_entry(
        name=stem, config=config or index_entry.config_entry_path(stem),
        url=index_entry.weights_url(result.path.name, base_url, result.path), sha256=result.sha256,
        size=result.size, fmt=result.format, metadata=metadata)
    if base_url is None:
        click.echo("note: weights.url is a local file:// URL; upload the file and pass --base-url "
                   "(index entries need an http(s) URL)", err=True)
    click.echo(json.dumps(entry, indent=2))

