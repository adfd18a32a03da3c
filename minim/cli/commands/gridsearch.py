"""``minim gridsearch CODEBASE CONFIG --search-args '--KEY V1 V2 ...'``: train every combination, rank them."""

from __future__ import annotations

import click

from minim.cli.launch_options import passed_on_launcher_options
from minim.cli.options import HELP, MultiValueCommand, cfg_options_option, codebase_argument, training_options

#: options passed on to every ``minim train`` run: (click name, flag, is_flag)
_TRAIN_OPTIONS = (
    ("launcher", "--launcher", False), ("gpus", "--gpus", False), ("gpus_per_node", "--gpus-per-node", False),
    ("nnodes", "--nnodes", False), ("node_rank", "--node-rank", False), ("master_addr", "--master-addr", False),
    ("master_port", "--master-port", False), ("partition", "--partition", False),
    ("cpus_per_task", "--cpus-per-task", False), ("srun_args", "--srun-args", False),
    ("device", "--device", False), ("seed", "--seed", False), ("deterministic", "--deterministic", True),
    ("amp", "--amp", True), ("channels_last", "--channels-last", True), ("auto_scale_lr", "--auto-scale-lr", True),
    ("sync_bn", "--sync-bn", True),
)


def train_arguments(params: dict) -> list[str]:
    """The ``minim train`` arguments for the options the user gave."""
    args: list[str] = []
    for name, flag, is_flag in _TRAIN_OPTIONS:
        value = params.get(name)
        if is_flag:
            if value:
                args.append(flag)
        elif value is not None and not (name == "launcher" and value == "none"):
            args += [flag, str(value)]
    return args


@click.command("gridsearch", cls=MultiValueCommand, context_settings=HELP)
@codebase_argument
@click.argument("config")
@click.option("--search-args", required=True, metavar="'--KEY V1 V2 ...'",
              help="Config keys and their values, e.g. '--optimizer.lr 1e-2 1e-3 --runner.max_epochs 5 10' "
                   "(values read like --cfg-options values).")
@click.option("--work-dir", type=click.Path(file_okay=False),
              help="Folder of the search (default work_dirs/<config>_gridsearch); one sub-folder per combination.")
@click.option("--max-jobs", "-j", type=int, default=1, show_default=True, help="Combinations run at the same time.")
@cfg_options_option
@click.option("--metric", help="Metric to rank by (default: evaluation.save_best, else accuracy_top-1).")
@click.option("--rule", type=click.Choice(["greater", "less"]), help="Whether a higher or lower --metric is better "
              "(default: inferred).")
@click.option("--allow-stale", is_flag=True, help="Search an intermediate variable even where other keys keep "
              "its old value.")
@click.option("--dry-run", is_flag=True, help="Print the train command of every combination and exit.")
@passed_on_launcher_options
@training_options
def command(codebase, config, search_args, work_dir, max_jobs, cfg_options, metric, rule, allow_stale, dry_run,
            **train_options):
    """Train CONFIG once per combination of --search-args values and rank the runs.

    Every combination trains in WORK_DIR/<key=value,...>; the ranking by the best validation
    metric is printed and written to WORK_DIR/summary.json and summary.csv. Running the same search
    again skips the combinations that finished.

    \b
    Examples:
      minim gridsearch cls my_config.py --search-args '--optimizer.lr 1e-2 1e-3 --runner.max_epochs 5 10'
      minim gridsearch cls my_config.py --search-args '--optimizer.weight_decay 1e-4 5e-4' -j 2
      minim gridsearch cls my_config.py --search-args '--optimizer.lr 0.1 0.2' --launcher pytorch --gpus 4
    """
    from minim.gridsearch import gridsearch

    result = gridsearch(
        codebase.name,
        config,
        search_args,
        work_dir=work_dir,
        cfg_options=list(cfg_options),
        train_args=train_arguments(train_options),
        max_jobs=max_jobs,
        metric=metric,
        rule=rule,
        allow_stale=allow_stale,
        dry_run=dry_run,
    )
    if result.dry_run:
        from minim.launch.commands import format_command

        for run in result.runs:
            click.echo(format_command(run.command))
        return
    _print_ranking(result)
    click.echo(f"summary: {result.summary_json} and {result.summary_csv.name}")
    result.raise_for_failures()


def _print_ranking(result) -> None:
    """The ranked runs as a rich table on stdout, with the rule they are ranked by."""
    from rich.console import Console
    from rich.table import Table

    from minim.gridsearch.summary import cell_text

    table = Table(title=result.title)
    table.add_column("#", justify="right")
    for key in result.keys:  # a searched key's name is not broken mid-word (values fold instead)
        table.add_column(key, justify="right", overflow="fold", min_width=min(len(key), 40))
    table.add_column(f"best {result.metric}", justify="right", overflow="fold")
    table.add_column("at", justify="right")
    table.add_column("status")
    styles = {"failed": "red", "done": "green", "skipped": "green"}
    for i, run in enumerate(result.runs, 1):
        table.add_row(
            str(i), *[cell_text(run.values.get(k)) for k in result.keys],
            "-" if run.best is None else f"{run.best:.2f}",
            "-" if run.best_at is None else str(run.best_at),
            f"[{styles.get(run.status, 'default')}]{run.status}[/]",
        )
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    better = "higher" if result.rule == "greater" else "lower"
    console.print(f"ranked by the best {result.metric} of each run ({better} is better)", markup=False)
