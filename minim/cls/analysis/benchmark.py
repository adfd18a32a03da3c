"""Inference speed measured on this machine: latency, throughput and peak memory, cached under MINIM_HOME.

A model (index name or config) is built with random weights, put in eval mode and run under
``torch.inference_mode`` on random ``batch x 3 x S x S`` inputs, S the index entry's ``input_size`` or the
test pipeline's crop (224 when neither says). After 3 warm-up runs, each timed run is one forward pass of the
batch (CUDA synchronised before the clock stops); runs continue until ``min_runs`` and ``min_seconds`` are
both reached (at most ``max_runs``).

Peak memory: on CUDA ``torch.cuda.max_memory_allocated`` during the timed runs (weights, inputs and
activations; the caching allocator's reserve is not counted). On the CPU, tracemalloc does not see torch's
allocations, so it is the size of the weights (parameters and buffers) plus the peak growth of the process's
resident memory (``/proc/self/statm``, sampled every millisecond) during the timed runs over its size after
the warm-up, freed memory having first been handed back to the system (glibc's ``malloc_trim``): activations,
inputs and allocator overhead, without the one-time costs of the first runs (thread pools, kernels). Without
glibc, memory the warm-up freed can hide part of it; None where ``/proc`` does not exist.

Results are cached as JSON in ``$MINIM_HOME/benchmarks/``, keyed by model (name and a digest of its config's
``model`` dict), batch size, input size, device, amp, channels-last, torch version and CPU/GPU name: a later
call with the same key reads the cache.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import json
import os
import platform
import statistics
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from minim.atomic import atomic_output
from minim.cls.analysis.index_entry import input_size
from minim.cls.engine.device import resolve_device, resolve_precision, synchronize
from minim.cls.models import build_classifier
from minim.cls.plan.config import load_cls_config
from minim.errors import UsageError
from minim.settings import minim_home

WARMUP_RUNS = 3
MIN_RUNS = 10
MIN_SECONDS = 1.0
MAX_RUNS = 200
CACHE_VERSION = 1


@dataclass
class BenchmarkResult:
    """One measurement (also what the cache and ``--json`` hold)."""

    model: str
    model_digest: str  #: sha256 (16 hex digits) of the config's ``model`` dict: an edited config is measured again
    batch_size: int
    input_size: int
    device: str  #: ``cpu`` or ``cuda``
    device_name: str  #: CPU model or GPU name
    amp: bool
    channels_last: bool
    torch_version: str
    params_m: float
    latency_ms_median: float  #: one forward pass of the batch
    latency_ms_p90: float
    throughput: float  #: images per second at the median latency
    peak_memory_mb: float | None
    memory_measure: str  #: how peak_memory_mb was measured
    runs: int
    measured_at: str
    cached: bool = field(default=False, compare=False)

    def key(self) -> dict[str, Any]:
        return cache_key(self.model, self.model_digest, self.batch_size, self.input_size, self.device,
                         self.device_name, self.amp, self.channels_last, self.torch_version)


def cache_key(model: str, model_digest: str, batch_size: int, input_size: int, device: str, device_name: str,
              amp: bool, channels_last: bool, torch_version: str) -> dict[str, Any]:
    return {"model": model, "model_digest": model_digest, "batch_size": batch_size, "input_size": input_size,
            "device": device, "device_name": device_name, "amp": amp, "channels_last": channels_last,
            "torch_version": torch_version, "version": CACHE_VERSION}


def cache_file(key: dict[str, Any]) -> Path:
    """``$MINIM_HOME/benchmarks/<model>-<hash of the key>.json``."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key["model"])[:80]
    return minim_home() / "benchmarks" / f"{safe}-{digest}.json"


def read_cached(key: dict[str, Any]) -> BenchmarkResult | None:
    path = cache_file(key)
    try:
        data = json.loads(path.read_text())
        result = BenchmarkResult(**{**data, "cached": True})
    except (OSError, ValueError, TypeError):
        return None  # missing or unreadable: measured again
    return result if result.key() == key else None


def write_cached(result: BenchmarkResult) -> Path:
    path = cache_file(result.key())
    with atomic_output(path) as tmp:
        tmp.write_text(json.dumps({k: v for k, v in asdict(result).items() if k != "cached"}, indent=2) + "\n")
    return path


# ----------------------------------------------------------------------------- machine
def device_name(device) -> str:
    """The GPU's name, or the CPU's model name (``/proc/cpuinfo``, else ``platform.processor()``)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "cpu"


def _trim_freed_memory() -> None:
    """Hand memory freed by earlier work back to the system (glibc's ``malloc_trim``), so that the resident
    memory's growth counts this model's allocations; nothing elsewhere."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _rss_bytes() -> int | None:
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _RssPeak:
    """The peak resident memory while running, sampled every millisecond by a thread."""

    def __init__(self):
        self.peak = _rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.update()

    def update(self) -> None:
        now = _rss_bytes()
        if now is not None and self.peak is not None:
            self.peak = max(self.peak, now)

    def __enter__(self):
        if self.peak is not None:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.update()


# ----------------------------------------------------------------------------- measuring
def model_config(name_or_config: str):
    """``(display name, cfg, input size, digest of the model dict)`` for an index name/alias or a config file."""
    cfg, entry = load_cls_config(name_or_config)
    if "model" not in cfg:
        raise UsageError(f"{name_or_config}: config has no 'model'")
    size = (entry.metadata.get("input_size") if entry is not None else None) or input_size(cfg) or 224
    name = entry.name if entry is not None else str(name_or_config)
    digest = hashlib.sha256(json.dumps(cfg.model, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return name, cfg, int(size), digest


def measure(name_or_config: str, batch_size: int = 1, device: str | None = "cpu", amp: bool = False,
            channels_last: bool = False, *, use_cache: bool = True, warmup: int = WARMUP_RUNS, min_runs: int = MIN_RUNS,
            min_seconds: float = MIN_SECONDS) -> BenchmarkResult:
    """Benchmark one model at one batch size (from the cache when the same key was measured before):
    ``warmup`` untimed runs, then timed runs until ``min_runs`` and ``min_seconds`` are both reached."""
    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    where = resolve_device(device)
    name, cfg, size, digest = model_config(name_or_config)
    key = cache_key(name, digest, batch_size, size, where.type, device_name(where), amp, channels_last,
                    torch.__version__)
    if use_cache:
        cached = read_cached(key)
        if cached is not None:
            return cached
    result = _run(name, digest, cfg, size, batch_size, where, amp, channels_last, warmup, min_runs, min_seconds)
    write_cached(result)
    return result


def _run(name: str, digest: str, cfg, size: int, batch_size: int, device, amp: bool, channels_last: bool,
         warmup: int, min_runs: int, min_seconds: float) -> BenchmarkResult:
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    if device.type == "cuda":
        torch.cuda.empty_cache()
    model = build_classifier(cfg.model).eval().to(device, memory_format=memory_format)
    params = sum(p.numel() for p in model.parameters())
    weight_bytes = sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))
    images = torch.randn(batch_size, 3, size, size, device=device).contiguous(memory_format=memory_format)
    precision = resolve_precision(device, amp=amp)

    def forward() -> float:
        start = time.perf_counter()
        with torch.inference_mode(), precision.autocast():
            model(images)
        synchronize(device)
        return time.perf_counter() - start

    for _ in range(warmup):
        forward()
    _trim_freed_memory()
    rss_before = _rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    times: list[float] = []
    with _RssPeak() as rss:
        started = time.perf_counter()
        while len(times) < MAX_RUNS and (len(times) < min_runs or time.perf_counter() - started < min_seconds):
            times.append(forward())
    if device.type == "cuda":
        peak, how = torch.cuda.max_memory_allocated(device) / 2**20, "cuda max_memory_allocated"
    elif rss_before is not None and rss.peak is not None:
        peak, how = (weight_bytes + max(rss.peak - rss_before, 0)) / 2**20, "cpu weights + rss growth"
    else:
        peak, how = None, "unavailable"
    median = statistics.median(times)
    return BenchmarkResult(
        model=name, model_digest=digest, batch_size=batch_size, input_size=size, device=device.type,
        device_name=device_name(device), amp=amp, channels_last=channels_last, torch_version=torch.__version__, params_m=round(params / 1e6, 3),
        latency_ms_median=round(median * 1e3, 3), latency_ms_p90=round(_percentile(times, 90) * 1e3, 3),
        throughput=round(batch_size / median, 2), peak_memory_mb=None if peak is None else round(peak, 1),
        memory_measure=how, runs=len(times), measured_at=time.strftime("%Y-%m-%dT%H:%M:%S%z"))


def _percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile with linear interpolation (numpy's default)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


#: the table's columns: (header, result attribute)
COLUMNS = (("model", "model"), ("batch", "batch_size"), ("size", "input_size"), ("median ms", "latency_ms_median"),
           ("p90 ms", "latency_ms_p90"), ("img/s", "throughput"), ("peak MB", "peak_memory_mb"),
           ("params M", "params_m"), ("cached", "cached"))


def table_rows(results: Sequence[BenchmarkResult]) -> list[list[str]]:
    """One row of strings per result, in :data:`COLUMNS` order."""
    def text(value) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        return f"{value:g}" if isinstance(value, float) else str(value)

    return [[text(getattr(r, attribute)) for _, attribute in COLUMNS] for r in results]
