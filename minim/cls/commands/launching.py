"""What the launcher asks the codebase before it starts distributed workers."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from minim.cls.plan import TrainOptions, config_stem, load_cls_config, plan_training


def launch_preflight(config, cfg_options: Sequence[str] = (), command: str = "train",
                     params: Mapping[str, Any] | None = None) -> str:
    """Before starting workers: read the config once and check what every worker would refuse (the errors
    show once, before any process starts, not once per rank); returns the job name.

    ``params``: the command's options (``device``, and for ``test`` ``checkpoint``, ``metrics``, ``out``,
    ``out_items``; for ``train`` ``work_dir``, ``resume``, ``auto_scale_lr``, ``no_validate``).
    """
    cfg, entry = load_cls_config(config, list(cfg_options))
    params = dict(params or {})
    if params.get("device") not in (None, "", "auto", "cpu"):
        from minim.cls.engine.device import resolve_device

        resolve_device(params["device"])  # --device cuda without CUDA: one error here
    if command == "test":
        _test_preflight(cfg, entry, params)
    elif command == "train":
        options = TrainOptions(work_dir=params.get("work_dir"), resume=params.get("resume"),
                               auto_scale_lr=bool(params.get("auto_scale_lr")),
                               validate=not params.get("no_validate", False), distributed=True)
        plan_training(cfg, options, entry=entry)  # its warnings are the workers' to show
    return f"{config_stem(cfg)}_{command}"


def _test_preflight(cfg, entry, params: Mapping[str, Any]) -> None:
    from minim.cls.analysis.test_output import check_out
    from minim.cls.metrics import METRICS, MULTI_LABEL_METRICS, check_metric_names
    from minim.cls.plan.checkpoints import checkpoint_for

    checkpoint_for(params.get("checkpoint"), entry, "test")
    check_out(params.get("out"), list(params.get("out_items") or ()) or None)
    metrics = list(params.get("metrics") or ())
    if metrics:
        check_metric_names(metrics, (*METRICS, *MULTI_LABEL_METRICS))  # the dataset decides which apply
