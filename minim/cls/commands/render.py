"""What ``minim train|test|infer cls`` print: the training summary, metric tables, predictions."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from minim.cls.commands.training import TrainResult


def _sample_image(dataset) -> str | None:
    if dataset is None or not len(dataset):
        return None
    try:
        from minim.cls.datasets.checks import sample_source

        path = sample_source(dataset, 0)
    except Exception:  # noqa: BLE001 - only a suggestion in the summary
        return None
    return path if os.path.isfile(path) else None


def _near_chance(result: "TrainResult", val_dataset) -> str | None:
    """A note when top-1 accuracy stayed within 1.5x of chance (1 / classes): the model learned nothing."""
    classes = len(getattr(val_dataset, "CLASSES", None) or ())
    key = result.best_key if result.best_key and "accuracy" in result.best_key else None
    score = result.best_score if key else next(
        (v for k, v in result.last_metrics.items() if k.startswith("accuracy") and isinstance(v, float)), None)
    if classes < 2 or score is None or score > 150.0 / classes:
        return None
    return (f"top-1 accuracy {score:.1f} % is near chance for {classes} classes ({100 / classes:.1f} %): the model "
            "learned next to nothing. A fine-tuning recipe (low lr, few epochs) needs pretrained weights: set "
            "load_from to the downloaded checkpoint; otherwise check the labels and the learning rate.")


def _count(number: int, noun: str) -> str:
    """``1 epoch``, ``3 epochs``."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _fmt_seconds(seconds: float) -> str:
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def print_train_summary(result: "TrainResult", val_dataset=None) -> None:
    """The closing lines of ``minim train``: best score, where the checkpoint is, what to run next."""
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    progress = _count(result.iters, "iteration")
    if result.by_epoch:
        progress = f"{_count(result.epochs, 'epoch')}, {progress}"
    speed = (f"{result.images_per_second:.0f} training images/s" if result.images_per_second > 0
             else "no training step ran (the run resumed where it had ended)")
    console.print(f"\n[bold green]Training finished[/] in {_fmt_seconds(result.seconds)}: {progress}, {speed}.")
    checkpoint = result.best_checkpoint or result.latest_checkpoint
    if result.best_key is not None and result.best_score is not None:
        unit = "epoch" if result.by_epoch else "iteration"
        console.print(
            f"Best {result.best_key} on the validation set: [bold]{result.best_score:.2f} %[/] at {unit} "
            f"{result.best_number} -> {result.best_checkpoint}", markup=True
        )
    elif result.last_metrics:
        shown = ", ".join(f"{k} {v:.2f} %" for k, v in result.last_metrics.items() if isinstance(v, float))
        console.print(f"Final validation: {shown}")
    if result.per_class:
        print_per_class(result.per_class, console)
    chance = _near_chance(result, val_dataset)
    if chance:
        console.print(f"[bold yellow]Note:[/] {chance}", markup=True)
    if result.latest_checkpoint:
        console.print(f"Latest checkpoint: {result.latest_checkpoint}")
    console.print(f"Logs: {result.log_file} (and .json); config: {result.config_file}")
    if checkpoint:
        image = _sample_image(val_dataset) or "IMAGE_OR_DIR"
        console.print("Try it next:")
        console.print(f"  minim infer cls {result.config_file} {image} --checkpoint {checkpoint}", markup=False)


#: above this many classes the summary's per-class table shows the ones with the lowest recall only
PER_CLASS_ROWS = 20


def print_per_class(per_class: dict[str, list], console) -> None:
    """The last evaluation's precision, recall and F1 per class (the lowest recalls when there are many)."""
    from rich.table import Table

    rows = list(zip(per_class["classes"], per_class["precision"], per_class["recall"], per_class["f1_score"],
                    per_class["support"]))
    title = "Per class on the validation set (last evaluation, top-1):"
    if len(rows) > PER_CLASS_ROWS:
        rows = sorted(rows, key=lambda row: row[2])[:10]
        title = f"The 10 classes with the lowest recall of {len(per_class['classes'])} (last evaluation, top-1):"
    table = Table()
    for column in ("class", "precision %", "recall %", "f1 %", "images"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for name, precision, recall, f1, images in rows:
        table.add_row(str(name), f"{precision:.2f}", f"{recall:.2f}", f"{f1:.2f}", str(images))
    console.print(title, markup=False)
    console.print(table)


def print_metrics_table(results: dict[str, Any], title: str = "metrics") -> None:
    """A rich table of metric values (percentages)."""
    from rich.console import Console
    from rich.table import Table

    table = Table()
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in results.items():
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, list):
            text = ", ".join(f"{v:.2f}" for v in value)
        else:
            text = f"{value:.2f}"
        table.add_row(key, text)
    console = Console(highlight=False, soft_wrap=True)
    console.print(title, markup=False)
    console.print(table)
    if any(key.startswith("support") for key in results):
        console.print("accuracy, precision, recall and f1_score are percentages; support is a count of images")


def print_predictions(results: list[dict[str, Any]]) -> None:
    from rich.console import Console

    console = Console(highlight=False, soft_wrap=True)
    for item in results:
        console.print(f"[bold]{item['file']}[/]")
        for rank, top in enumerate(item["topk"], 1):
            console.print(f"  {rank}. {top['class']:<24} {top['score'] * 100:6.2f} %", markup=False)
        if "shown" in item:
            console.print(f"  -> {item['shown']}", markup=False)
