"""What ``minim list`` shows: the environment probe, the packages that matter to minim (as mim's ``list``: the
OpenMMLab packages, the torch family, timm and other backends, each with version, build and source; every
distribution with ``--all``), and the codebases minim knows with their model counts."""

from __future__ import annotations

from minim.env.model import Environment
from minim.env.probe import probe_environment
from minim.errors import MinimError
from pathlib import Path

from minim.env.model import Dist
from minim.env.torch_build import TORCH_FAMILY
from minim.packages.compat import COMPANIONS, CompatData, load_compat

#: shown besides OpenMMLab's packages, the torch family and packages.json's backends
ALSO_SHOWN = ("timm", "onnx", "onnxruntime", "opencv-python", "opencv-python-headless", "opencv-contrib-python",
              "opencv-contrib-python-headless")


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


def _build(dist: Dist, env: Environment, compat: CompatData | None) -> str | None:
    """torch's compute build, or whether an mmcv has its compiled ops; None for other packages."""
    if dist.key in TORCH_FAMILY:
        build = env.torch_build(dist.name)
        return build.describe() if build else None
    if compat is not None and dist.key in compat.mmcv_names():
        from minim.env.linkcheck import MMCV_EXTENSIONS, extension_files

        has_ops = bool(dist.location and extension_files(Path(dist.location) / "mmcv", MMCV_EXTENSIONS))
        return "with ops" if has_ops else "lite (no ops)"
    return None


def _source(dist: Dist) -> str:
    """Where a distribution came from: editable folder, direct URL, a wheel minim built (MINIM_HOME/wheels), or
    the installer (pip does not record the index)."""
    from minim.settings import minim_home

    built = sorted((minim_home() / "wheels").glob(f"{dist.name}-{dist.version}-*/*.whl"))
    if built:
        return f"built by minim ({built[0].parent})"
    if dist.editable:
        return f"editable {dist.direct_url or dist.location or ''}".strip()
    if dist.direct_url:
        return dist.direct_url
    return f"index ({dist.installer})" if dist.installer else "unknown"


def _kind(dist: Dist, compat: CompatData | None) -> str | None:
    if dist.key in TORCH_FAMILY:
        return "torch"
    if compat is not None and (compat.is_openmmlab(dist.name) or dist.key in compat.mmcv_names()):
        return "openmmlab"
    if any("extra == \"mim\"" in r.replace("'", '"') for r in dist.requires):
        return "openmmlab"
    if compat is not None and compat.is_backend(dist.name):
        return "backend"
    if dist.key in ALSO_SHOWN:
        return "backend"
    return None


def package_rows(env: Environment, compat: CompatData | None, everything: bool = False) -> list[dict]:
    """``[{name, version, kind, build, source}]``: the packages that matter to minim, or every one."""
    order = {"openmmlab": 0, "torch": 1, "backend": 2, None: 3}
    rows = []
    for dist in env.dists.values():
        kind = _kind(dist, compat)
        if kind is None and not everything:
            continue
        rows.append({"name": dist.name, "version": dist.version, "kind": kind, "build": _build(dist, env, compat),
                     "source": _source(dist)})
    return sorted(rows, key=lambda r: (order[r["kind"]], r["name"].lower()))


def environment_info(python: str | None = None, env: Environment | None = None, everything: bool = False) -> dict:
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
    return {"environment": data, "packages": package_rows(env, compat, everything), "codebases": codebase_rows(),
            "backends": backends}
