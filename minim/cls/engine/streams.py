"""One stream per CPU core: the throughput layout of CPU inference.

By default torch runs each operation on all the cores (intra-op threads), so on small batches every
core waits for the others at each layer's barrier, and reading the next images leaves all but one core
idle. :class:`CpuStreams` runs independent work on one thread per core instead, torch on one intra-op
thread each: no barriers, and one stream's decoding overlaps another's forward pass (how CPU inference
servers lay out throughput work). ``minim infer`` reads, measures and scores in these streams, so its
probes time the layout that then runs.
"""

from __future__ import annotations

import itertools
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Iterable, Iterator

import torch


class CpuStreams:
    """``count`` worker threads, each running torch on one intra-op thread, while the ``with`` block is open.

    torch's intra-op thread count is process-wide: it is 1 inside the block (also for the calling thread) and
    restored on leaving it, also when the block ends early. The threads start inside the block, after the count
    is set, so each starts with one intra-op thread.
    """

    def __init__(self, count: int):
        self.count = count
        self._pool: ThreadPoolExecutor | None = None
        self._threads = 0

    def __enter__(self) -> "CpuStreams":
        self._threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self._pool = ThreadPoolExecutor(self.count, thread_name_prefix="minim-stream")
        return self

    def __exit__(self, *exc_info) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None
        torch.set_num_threads(self._threads)

    def map(self, function: Callable[[Any], Any], items: Iterable[Any]) -> list[Any]:
        """``function`` of each item, the items spread over the streams; the results in the items' order."""
        return list(self._pool.map(function, items))

    def submit(self, function: Callable[..., Any], *args: Any) -> Future:
        """``function(*args)`` in the next free stream."""
        return self._pool.submit(function, *args)

    def imap(self, function: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``function`` of each item in the streams, yielded in the items' order as they finish; the items are
        taken lazily, at most two per stream in flight (memory stays bounded on long jobs)."""
        items = iter(items)
        in_flight = deque(self.submit(function, item) for item in itertools.islice(items, 2 * self.count))
        while in_flight:
            done = in_flight.popleft().result()
            in_flight.extend(self.submit(function, item) for item in itertools.islice(items, 1))
            yield done
