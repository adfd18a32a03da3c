"""``minim run cls benchmark`` and ``minim search cls --bench``: speed measured here, with a progress bar."""

from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Sequence

from minim.cls.commands.common import warn
from minim.errors import MinimError

#: the columns ``minim search --bench`` adds: (header, BenchmarkResult attribute)
SEARCH_COLUMNS = (("median ms", "latency_ms_median"), ("p90 ms", "latency_ms_p90"), ("img/s", "throughput"),
                  ("peak MB", "peak_memory_mb"))


def benchmark(models: Sequence[str], batch_sizes: Sequence[int] = (1,), device: str | None = None,
              amp: bool = False, channels_last: bool = False, *, use_cache: bool = True, console: bool = True,
              errors: dict[str, str] | None = None, **timing: Any):
    """Measure (or read from the cache) every model at every batch size, with a progress bar on stderr when
    ``console``; returns the :class:`~minim.cls.analysis.benchmark.BenchmarkResult` list (``timing``:
    ``warmup``, ``min_runs``, ``min_seconds`` of :func:`~minim.cls.analysis.benchmark.measure`). With ``errors``,
    a model that cannot be measured is recorded there (name -> message) instead of raising."""
    from minim.cls.analysis.benchmark import measure

    pairs = [(model, batch) for model in models for batch in batch_sizes]
    results = []
    with _progress(len(pairs), console) as step:
        for model, batch in pairs:
            step(f"measuring {model} (batch {batch})")
            try:
                results.append(measure(model, batch, device, amp, channels_last, use_cache=use_cache, **timing))
            except (MinimError, RuntimeError, ValueError) as exc:  # RuntimeError: the model's own shape checks
                if errors is None:
                    raise
                errors[model] = str(exc)
    return results


@contextlib.contextmanager
def _progress(total: int, console: bool) -> Iterator[Callable[[str], None]]:
    """Yields ``step(description)``, called before each item; a rich progress bar on stderr when ``console``."""
    if not console:
        yield lambda _description: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task("benchmark", total=total)
        started = []

        def step(description: str) -> None:
            if started:
                progress.advance(task)
            started.append(description)
            progress.update(task, description=description)

        yield step
        if started:
            progress.advance(task)


def bench_columns(names: Sequence[str], console: bool = True) -> tuple[list[str], dict[str, list[Any]]]:
    """``(headers, {model name: values})``: batch-1 speed on the default device (CUDA when available) of
    each index model, measured where not cached, for ``minim search --bench``. A model minim cannot build
    gets no values (a warning says why)."""
    errors: dict[str, str] = {}
    results = benchmark(names, (1,), None, console=console, errors=errors)
    for name, message in errors.items():
        warn(f"--bench: {name}: {message}", console)
    return [header for header, _ in SEARCH_COLUMNS], \
        {r.model: [getattr(r, attribute) for _, attribute in SEARCH_COLUMNS] for r in results}
