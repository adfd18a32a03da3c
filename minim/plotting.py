"""matplotlib access for the tools and the API: an optional dependency, always the non-interactive Agg canvas."""

from __future__ import annotations

from pathlib import Path

from minim.atomic import atomic_output
from minim.errors import MinimError, UsageError

#: file suffixes the plots can be saved as (format taken from the suffix)
PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


def import_matplotlib():
    """The ``matplotlib`` module, or a one-line error telling how to install it."""
    try:
        import matplotlib
    except ImportError:
        raise MinimError("plotting needs matplotlib, which is not installed",
                         hint="pip install matplotlib (or pip install 'minim[plot]')") from None
    return matplotlib


def check_cmap(name: str) -> str:
    """``name`` if matplotlib has that colour map, else a usage error with "did you mean"."""
    from minim.suggest import did_you_mean

    colormaps = import_matplotlib().colormaps
    if name not in colormaps:
        raise UsageError(f"--cmap {name!r} is not a matplotlib colour map",
                         hint=did_you_mean(name, list(colormaps)) or "e.g. Blues, viridis, Greys")
    return name


def new_figure(width: float, height: float):
    """A matplotlib ``Figure`` drawn by the Agg canvas (no window, no pyplot state).

    Raises a one-line error telling how to install matplotlib when it is missing.
    """
    import_matplotlib()
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def check_plot_path(path: str | Path) -> Path:
    """``path`` if its suffix is a supported image format, else a usage error."""
    path = Path(path)
    if path.suffix.lower() not in PLOT_SUFFIXES:
        raise UsageError(f"cannot save a plot as {path.name}: use one of {', '.join(PLOT_SUFFIXES)}")
    return path


def save_figure(figure, path: str | Path, dpi: int = 120) -> Path:
    """Save ``figure`` to ``path`` atomically (format from the suffix)."""
    path = check_plot_path(path)
    with atomic_output(path) as tmp:
        figure.savefig(tmp, format=path.suffix.lower().lstrip(".").replace("jpg", "jpeg"), dpi=dpi)
    return path
