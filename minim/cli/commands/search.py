"""``minim search CODEBASE``: find models in the index."""

from __future__ import annotations

import json

import click

from minim.cli.options import codebase_argument


@click.command("search")
@codebase_argument
@click.option("--model", "models", multiple=True, metavar="PATTERN",
              help="Glob or substring over name, aliases and collection (case-insensitive; repeatable).")
@click.option("--config", "configs", multiple=True, metavar="NAME", help="Exact config name or alias (repeatable).")
@click.option("--dataset", "datasets", multiple=True, metavar="NAME", help="Training dataset, e.g. ImageNet-1k.")
@click.option("--condition", "conditions", multiple=True, metavar="EXPR",
              help="FIELD OP VALUE, e.g. 'top1>75', 'params_m<=10', 'dataset==ImageNet-1k' (repeatable, ANDed).")
@click.option("--sort", "sort", multiple=True, metavar="FIELD", help="Sort by FIELD (repeatable).")
@click.option("--ascending/--descending", default=True, help="Sort direction (default ascending).")
@click.option("--field", "fields", multiple=True, metavar="FIELD", help="Columns to show (repeatable).")
@click.option("--limit", type=click.IntRange(min=0), default=None, help="Show at most N models.")
@click.option("--json", "as_json", is_flag=True, help="Print the full entries as a JSON list.")
@click.option("--dataset-index", is_flag=True,
              help="List the datasets 'minim download CODEBASE --dataset NAME' can fetch (instead of models).")
@click.option("--bench", is_flag=True,
              help="Add speed measured here (batch 1, random weights; cached, see 'minim run cls benchmark').")
def command(codebase, models, configs, datasets, conditions, sort, ascending, fields, limit, as_json, dataset_index,
            bench):
    """Search the model index of CODEBASE.

    \b
    Examples:
      minim search cls --model mobilenet --condition 'top1>70'
      minim search cls --condition 'params_m<=10' --sort top1 --descending --limit 5
      minim search cls --model 'resnet*' --field name --field top1 --json
      minim search cls --model 'mobilenet*' --limit 3 --bench
      minim search cls --dataset-index
    """
    if dataset_index:
        _list_datasets(codebase, as_json)
        return
    from minim.index import load_index
    from minim.index.query import DEFAULT_FIELDS, available_fields, check_field
    from minim.index.search import SearchQuery, search

    index = load_index(codebase.name)
    columns = [check_field(f, available_fields(index.models)) for f in fields] or list(DEFAULT_FIELDS)
    query = SearchQuery(models=list(models), configs=list(configs), datasets=list(datasets),
                        conditions=list(conditions), sort=list(sort), descending=not ascending, limit=limit)
    entries = search(index, query)
    headers, measured = [], {}
    if bench and entries:
        headers, measured = codebase.engine_function("bench_columns")([e.name for e in entries if e.config_path])
    if as_json:
        click.echo(json.dumps([_with_bench(e.to_json(), headers, measured.get(e.name)) for e in entries],
                              indent=2))
        return
    if not entries:
        click.echo("No models match.", err=True)
        return
    from minim.cli.render import print_table

    blank = [None] * len(headers)
    rows = [[_format(e.field_value(c)) for c in columns] + [_format(v) for v in measured.get(e.name, blank)]
            for e in entries]
    print_table(columns + headers, rows, title=f"{len(entries)} of {len(index)} {codebase.name} models")


def _list_datasets(codebase, as_json: bool) -> None:
    from minim.index.datasets import load_dataset_index

    index = load_dataset_index(codebase.name)
    if as_json:
        click.echo(json.dumps([e.to_json() for e in index], indent=2))
        return
    from minim.cli.render import print_table

    rows = [[e.name, ", ".join(e.aliases) or "-", _format(e.num_classes), e.layout, e.description] for e in index]
    print_table(["name", "aliases", "classes", "layout", "description"], rows,
                title=f"{len(index)} {codebase.name} datasets (minim download {codebase.name} --dataset NAME --dest DIR)")


def _with_bench(data: dict, headers: list[str], values: list | None) -> dict:
    if values is not None:
        data["bench"] = dict(zip(headers, values))
    return data


def _format(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return str(value)
