"""Terminal output helpers (rich tables), shared by commands."""

from __future__ import annotations

from typing import Sequence


def print_table(columns: Sequence[str], rows: Sequence[Sequence[str]], title: str | None = None) -> None:
    """Print a rich table on stdout; plain, unwrapped text when stdout is not a terminal."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        numeric = column in {"top1", "top5", "params_m", "flops_g", "input_size", "size_mb"}
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*row)
    if not console.is_terminal:
        console = Console(width=max(200, console.width))
    console.print(table)
