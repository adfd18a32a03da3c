"""``WorkerSession``: the life of one process of a launched (torchrun/srun) train or test run.

It joins the process group on entry (device and backend from ``--device`` and the config's
``dist_params``) and leaves it after a final barrier; errors of ranks other than 0 carry their
rank, and a rank that only lost its peers (another rank failed first) exits quietly, so the
report shows the real cause once.
"""

from __future__ import annotations

from minim.cls.engine.dist import destroy_distributed, init_distributed
from minim.errors import ConfigError, MinimError, UsageError
from minim.launch.options import LAUNCHERS


class WorkerSession:
    """Joins the process group of a launched worker (``launcher`` != 'none') and leaves it at the end;
    errors of ranks other than 0 are prefixed with their rank."""

    def __init__(self, launcher: str, cfg, device, gpus=None):
        if launcher not in LAUNCHERS:
            raise UsageError(f"unknown launcher {launcher!r}; known: {', '.join(LAUNCHERS)}")
        if launcher != "none" and gpus is not None:
            raise UsageError("--gpus is read by the launching process, not by a worker (--launcher-worker)")
        self.launcher, self.cfg, self.device = launcher, cfg, device
        self.setup = None

    def __enter__(self):
        if self.launcher == "none":
            return None
        dist_params = self.cfg.get("dist_params") or {}
        if not isinstance(dist_params, dict):
            raise ConfigError(f"dist_params must be a dict such as dict(backend='nccl'), got {dist_params!r}")
        device = self.device if self.device is not None else self.cfg.get("device")
        self.setup = init_distributed(self.launcher, dist_params.get("backend"), device)
        return self.setup

    def __exit__(self, kind, error, traceback):
        if self.setup is None:
            return False
        if isinstance(error, MinimError) and self.setup.rank != 0:
            error.message = f"[rank {self.setup.rank}] {error.message}"
        if error is None:
            destroy_distributed()
        elif lost_a_peer(error):
            # another rank failed (its own error is the one to read) and closed the connection:
            # leave quietly instead of adding a backend error to the report
            raise SystemExit(1) from None
        return False


def lost_a_peer(error: BaseException) -> bool:
    """True for the error a collective raises when another rank has died (gloo and NCCL wordings)."""
    text = str(error).lower()
    peer_words = ("closed by peer", "connection reset by peer", "remote worker crashing", "remote process exited")
    return isinstance(error, RuntimeError) and any(word in text for word in peer_words)
