"""What the launcher asks the codebase before it starts distributed workers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence


def launch_preflight(config, cfg_options: Sequence[str] = (), command: str = "train",
                     params: Mapping[str, Any] | None = None) -> str:
    """Before starting workers: read the config once and check what every worker would refuse (the errors
    show once, before any process starts, not once per rank); returns the job name.

    ``params``: the command's options (``device``, and for ``test`` ``checkpoint``, ``metrics``, ``out``,
    ``out_items``; for ``train`` ``resume`` and ``work_dir``).
    """
    from minim.cls.apis.config_source import config_stem, load_cls_config

    cfg, entry = load_cls_config(config, list(cfg_options))
    params = dict(params or {})
    if params.get("device") not in (None, "", "auto", "cpu"):
        from minim.cls.engine.device import resolve_device

        resolve_device(params["device"])  # --device cuda without CUDA: one error here
    if command == "test":
        _test_preflight(cfg, entry, params)
    elif command == "train" and params.get("resume") not in (None, False, ""):
        from minim.cls.commands.training import resume_path, resolve_work_dir

        work_dir = resolve_work_dir(params.get("work_dir"), cfg, config_stem(cfg))
        resume = resume_path(params["resume"], cfg, Path(work_dir))
        if resume and not Path(resume).is_file():
            from minim.errors import CheckpointError

            raise CheckpointError(f"--resume: checkpoint {resume} does not exist")
    return f"{config_stem(cfg)}_{command}"


def _test_preflight(cfg, entry, params: Mapping[str, Any]) -> None:
    from minim.cls.analysis.test_output import check_out
    from minim.cls.commands.common import checkpoint_for
    from minim.cls.metrics import check_metric_names

    checkpoint_for(params.get("checkpoint"), entry, "test")
    check_out(params.get("out"), list(params.get("out_items") or ()) or None)
    metrics = list(params.get("metrics") or ())
    if metrics:
        check_metric_names(metrics)
