"""``checkpoint_config``: periodic checkpoints, ``latest.pth``, ``max_keep_ckpts``.

``checkpoint_config = dict(interval=1, by_epoch=True, save_optimizer=True, max_keep_ckpts=-1,
save_last=True, out_dir=None)`` as mmcv: files ``epoch_{N}.pth`` (``iter_{N}.pth`` when
``by_epoch=False``) every ``interval`` and at the end when ``save_last``; ``latest.pth`` points at
the newest (symlink, copy where links fail); with ``max_keep_ckpts > 0`` older periodic files are
removed walking back by ``interval``. Files are written atomically.
"""

from __future__ import annotations

import os
from pathlib import Path

from minim.cls.engine import checkpoint_io
from minim.cls.engine.dist import is_main_process
from minim.cls.engine.hooks import Hook
from minim.errors import ConfigError
from minim.suggest import did_you_mean

KEYS = ("interval", "by_epoch", "save_optimizer", "out_dir", "max_keep_ckpts", "save_last", "create_symlink", "filename_tmpl")


class CheckpointHook(Hook):
    priority = "NORMAL"

    def __init__(
        self,
        interval: int = -1,
        by_epoch: bool = True,
        save_optimizer: bool = True,
        out_dir: str | None = None,
        max_keep_ckpts: int = -1,
        save_last: bool = True,
        create_symlink: bool = True,
        filename_tmpl: str | None = None,
    ):
        self.interval = interval
        self.by_epoch = by_epoch
        self.save_optimizer = save_optimizer
        self.out_dir = out_dir
        self.max_keep_ckpts = max_keep_ckpts
        self.save_last = save_last
        self.create_symlink = create_symlink
        self.filename_tmpl = filename_tmpl or ("epoch_{}.pth" if by_epoch else "iter_{}.pth")

    def before_run(self, runner) -> None:
        if self.out_dir is None:
            self.directory = runner.work_dir
        else:  # mmcv: files go to out_dir/<basename of work_dir>
            self.directory = Path(self.out_dir) / runner.work_dir.name
        if is_main_process():
            self.directory.mkdir(parents=True, exist_ok=True)

    def after_train_epoch(self, runner) -> None:
        if not self.by_epoch:
            return
        if self.every_n_epochs(runner, self.interval) or (self.save_last and self.is_last_epoch(runner)):
            self._save(runner, runner.epoch + 1, end_of_epoch=True)

    def after_train_iter(self, runner) -> None:
        if self.by_epoch:
            return
        if self.every_n_iters(runner, self.interval) or (self.save_last and self.is_last_iter(runner)):
            self._save(runner, runner.iter + 1, end_of_epoch=False)

    def _save(self, runner, number: int, end_of_epoch: bool) -> None:
        path = self.directory / self.filename_tmpl.format(number)
        runner.meta["hook_msgs"]["last_ckpt"] = str(path.absolute())  # a later --resume may run elsewhere
        runner.save_checkpoint(path, save_optimizer=self.save_optimizer, end_of_epoch=end_of_epoch)
        if not is_main_process():
            return
        if self.create_symlink:
            checkpoint_io.link_latest(path, self.directory / "latest.pth")
        runner.logger.info(f"saved checkpoint {path}", console=False)
        self._prune(number)

    def _prune(self, current: int) -> None:
        if self.max_keep_ckpts <= 0 or self.interval <= 0:
            return
        for number in range(current - self.max_keep_ckpts * self.interval, 0, -self.interval):
            old = self.directory / self.filename_tmpl.format(number)
            if not old.exists():
                break
            os.remove(old)


def build_checkpoint_hook(cfg, runner_by_epoch: bool) -> CheckpointHook | None:
    """The hook for ``checkpoint_config`` (None -> no periodic checkpoints); unknown keys are errors."""
    if cfg is None:
        return None
    cfg = dict(cfg)
    cfg.pop("type", None)
    for key in cfg:
        if key not in KEYS:
            raise ConfigError(
                f"checkpoint_config has unknown key {key!r}; known: {', '.join(KEYS)}", hint=did_you_mean(key, KEYS)
            )
    cfg.setdefault("by_epoch", runner_by_epoch)
    if cfg["by_epoch"] and not runner_by_epoch:
        raise ConfigError("checkpoint_config.by_epoch=True needs an EpochBasedRunner; set it to False for IterBasedRunner")
    return CheckpointHook(**cfg)
