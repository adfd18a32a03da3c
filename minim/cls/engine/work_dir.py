"""One training run per work dir at a time, and no temporary files left by a killed one.

Two runs writing the same ``epoch_N.pth``, ``latest.pth`` and ``best_*.pth`` would silently mix their
checkpoints. :func:`claim_work_dir` holds an exclusive lock on ``<work_dir>/.minim-train.lock`` for the
run: a POSIX record lock (``lockf``), which belongs to the process, so the operating system drops it
the moment the process ends, however it ends (an ``flock`` would live on in forked DataLoader workers),
plus a note in this process for a second claim from the same process. Holding it also makes the
``.<name>.tmp-*`` files in the folder leftovers of a run that was killed while writing, so they are removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
from pathlib import Path
from typing import Iterator

from minim.errors import UsageError

LOCK_NAME = ".minim-train.lock"


@contextlib.contextmanager
def claim_work_dir(work_dir: str | os.PathLike, enabled: bool = True) -> Iterator[None]:
    """Hold ``work_dir`` for one training run (create it); a :class:`UsageError` when another run holds it.

    ``enabled=False`` (the other ranks of a distributed run, whose rank 0 holds it) does nothing."""
    if not enabled:
        yield
        return
    try:
        import fcntl  # lazy: POSIX only; Windows runs without the lock
    except ImportError:  # pragma: no cover - Windows: no flock
        yield
        return
    folder = Path(work_dir)
    folder.mkdir(parents=True, exist_ok=True)
    key = str(folder.resolve())
    with open(folder / LOCK_NAME, "a+") as handle:
        try:
            if key in _CLAIMED:
                raise BlockingIOError
            fcntl.lockf(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (None, errno.EACCES, errno.EAGAIN):
                raise
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise UsageError(f"work dir {folder} is in use by another training run (pid {holder})",
                             hint="wait for it to finish, or give this run its own --work-dir") from None
        _CLAIMED.add(key)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(str(os.getpid()))
            handle.flush()
            remove_stale_temporaries(folder)
            yield
        finally:
            _CLAIMED.discard(key)
            fcntl.lockf(handle.fileno(), fcntl.LOCK_UN)


#: work dirs this process holds (POSIX locks do not conflict within one process)
_CLAIMED: set[str] = set()


def remove_stale_temporaries(folder: Path) -> list[Path]:
    """Delete the ``.<name>.tmp-*`` files (atomic writes cut short by a kill) in ``folder``; returns them."""
    stale = [path for path in folder.glob(".*.tmp-*") if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale
