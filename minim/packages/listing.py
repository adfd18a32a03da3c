"""What ``minim list`` shows: the environment probe plus the codebases minim knows and their model counts."""

from __future__ import annotations

from minim.env.model import Environment
from minim.env.probe import probe_environment
from minim.errors import MinimError
from minim.packages.compat import COMPANIONS, load_compat


def codebase_rows() -> list[dict]:
    """``[{name, description, models, error}]`` for every known codebase (a broken one says why)."""
    from minim.codebases import get_codebase, known_codebases

    rows = []
    for name in known_codebases():
        row = {"name": name, "description": None, "models": None, "error": None}
        try:
            codebase = get_codebase(name)
            row["description"] = codebase.description
        except MinimError as exc:
            row["error"] = str(exc)
            rows.append(row)
            continue
        try:
            from minim.index import load_index
        except ImportError:
            row["error"] = "model index support (minim.index) is not available"
            rows.append(row)
            continue
        try:
            row["models"] = len(load_index(name).models)
        except MinimError as exc:
            row["error"] = f"index not readable: {exc}"
        except Exception as exc:  # a broken plug-in or install must not break the listing
            row["error"] = f"index not readable: {type(exc).__name__}: {exc}"
        rows.append(row)
    return rows


def environment_info(python: str | None = None, env: Environment | None = None) -> dict:
    """Everything ``minim list`` prints, as plain data (the ``--json`` output)."""
    env = env or probe_environment(python)
    data = env.to_dict()
    try:
        compat = load_compat()
    except MinimError:
        compat = None
    torch = env.get("torch")
    if compat is not None and torch is not None:
        for name in COMPANIONS:
            if name in data["torch"]:
                data["torch"][name]["pairs_with_torch"] = compat.pairs(name, env.version(name), torch.version)
    backends = {}
    if compat is not None:
        for name in compat.backend_names():
            dist = env.get(name)
            if dist is not None and name not in ("torch", "torchvision", "torchaudio"):
                backends[dist.name] = dist.version
    return {"environment": data, "codebases": codebase_rows(), "backends": backends}
