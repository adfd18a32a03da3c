"""channels_last where it is measured to be faster: a short probe at the start of a run, remembered.

Whether NHWC tensors (``channels_last``) speed a network up depends on its layers, the device, the
precision and the torch build: depth-wise convolutions gain several times on CPUs, other models
lose. So the engine measures instead of guessing: a few forward+backward steps of a copy of the
model on a real batch of the run, in each memory format, under the run's precision, interleaved,
the fastest step of each kept; channels_last is chosen when it is at least :data:`MARGIN` faster.
On CPUs the probe batch is at most :data:`CPU_PROBE_BATCH` images (the per-image speed ratio of the
two formats barely depends on the batch size there; whole batches would take minutes).

For inference (``minim infer``, ``minim test``) the probes time forward passes instead, and
:func:`choose_inference` also picks the forward pass (the model or its frozen trace) and the batch size (also
for evaluation on a CPU); ``minim infer``'s batches are the job's own first images (:class:`ProbeImages`),
whose scores are kept as results. On a CPU with several cores they run in the job's
:class:`~minim.cls.engine.streams.CpuStreams`, as the job's forward passes will.

The answers are remembered in ``$MINIM_HOME/probes/`` (``channels_last.json``, ``inference.json``),
keyed by the architecture (a digest of the model's structure), the image shape, the probe batch, the
precision, the device (CPU model and threads, or GPU name) and the torch version, so each combination
is measured once. A CPU probe during which other processes took the cores (its threads ran less than
:data:`MIN_RUN_SHARE` of the time they wanted one) decides for its own run only and is not remembered:
contention slows the candidates unequally (oneDNN's frozen graphs lose more than eager passes), so its
answer could be wrong on the idle machine for good. Later runs in the same process reuse it (the same choice,
so the same float rounding, within a process).
The model, its gradients and buffers, and the global random generators are left as they were.
In a distributed run rank 0 decides for every rank.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Protocol

import torch
from torch import nn

from minim.atomic import write_text_atomic
from minim.cls.engine.device import synchronize
from minim.cls.engine.dist import broadcast_object, get_world_size, is_main_process
from minim.cls.engine.seed import capture_rng_state, restore_rng_state
from minim.cls.engine.streams import CpuStreams
from minim.settings import minim_home

#: channels_last must be at least this much faster (a fraction of the contiguous step time) to be chosen
MARGIN = 0.05
#: timed steps per memory format (after one warm-up step each)
TIMED_STEPS = 2
#: the largest probe batch on CPUs
CPU_PROBE_BATCH = 8
#: inference probes: calls before timing, and images per timing
WARM_UP_CALLS = 3
TIMED_IMAGES = 12
#: a CPU probe whose threads ran less than this share of the time they wanted a core is not remembered
MIN_RUN_SHARE = 0.75


class ProbeClock:
    """Times a probe's steps, and how long its threads waited for a CPU core meanwhile (Linux's per-thread
    scheduler statistics: time runnable but not running, because other processes had the cores)."""

    def __init__(self):
        self.ran = self.waited = 0  # nanoseconds, over every timed step and thread
        self._start: tuple[float, dict[str, tuple[int, int]]] = (0.0, {})

    def start(self) -> None:
        """Start a timed step."""
        self._start = (time.perf_counter(), _thread_schedstats())

    def stop(self) -> float:
        """End the timed step; returns its seconds."""
        seconds = time.perf_counter() - self._start[0]
        before = self._start[1]
        for thread, (ran, waited) in _thread_schedstats().items():
            ran_before, waited_before = before.get(thread, (0, 0))
            self.ran, self.waited = self.ran + ran - ran_before, self.waited + waited - waited_before
        return seconds

    def run_share(self) -> float:
        """The share of the time the probe's threads wanted a core that they ran (1.0 where the OS does not tell)."""
        wanted = self.ran + self.waited
        return self.ran / wanted if wanted > 0 else 1.0


def _thread_schedstats() -> dict[str, tuple[int, int]]:
    """``{thread id: (ns run on a CPU, ns waited for one)}`` of this process's threads; empty where the OS has no
    ``/proc/self/task/*/schedstat``."""
    stats = {}
    try:
        threads = os.listdir("/proc/self/task")
    except OSError:
        return stats
    for thread in threads:
        try:
            with open(f"/proc/self/task/{thread}/schedstat", encoding="ascii") as handle:
                ran, waited = handle.read().split()[:2]
            stats[thread] = (int(ran), int(waited))
        except (OSError, ValueError):
            continue
    return stats


class ProbeImages(Protocol):
    """Where the inference probes take their batches from: the job's own images, so that measuring is work done."""

    def take(self, size: int) -> torch.Tensor | None:
        """Up to ``size`` images of one shape, ``N x C x H x W``; None when there are none left."""

    def keep(self, scores) -> None:
        """The scores (``forward_test``'s output) of the batch taken first among those not yet kept."""


def probe_cache_path(name: str = "channels_last") -> Path:
    """Where measured choices of kind ``name`` (``channels_last``, ``inference``) are remembered."""
    return minim_home() / "probes" / f"{name}.json"


def choose_channels_last(cfg: Mapping[str, Any], model: nn.Module, loader, precision, device: torch.device,
                         *, inference: bool = False, images: ProbeImages | None = None,
                         streams: CpuStreams | None = None) -> tuple[bool, str]:
    """``(channels_last, the reason in words)`` for the run: the config's (or ``--channels-last``'s) value when
    it sets one; off under ``deterministic`` (no choice that depends on timings); else measured (see module).
    ``inference`` times eval-mode forward passes (``forward_test``) instead of training steps, on batches of
    ``images`` (their scores handed back) while it has any, split over ``streams`` when given."""
    explicit = cfg.get("channels_last")
    if explicit is not None:
        return bool(explicit), f"channels_last {'on' if explicit else 'off'} (set by the config or --channels-last)"
    if cfg.get("deterministic", False):
        return False, "channels_last off (--deterministic: no timing-dependent choices)"
    if not any(isinstance(module, nn.Conv2d) for module in model.modules()):
        return False, "channels_last off (the model has no 2-D convolutions)"
    if any(isinstance(module, nn.SyncBatchNorm) for module in model.modules()) and get_world_size() > 1:
        # its forward talks to every rank: rank 0 cannot measure alone
        return False, "channels_last off (SyncBatchNorm: not measured; set channels_last=True to use it)"
    measured = (_measured_choice(model, loader, precision, device, inference, images, streams)
                if is_main_process() else None)
    return broadcast_object(measured)


def _measured_choice(model: nn.Module, loader, precision, device: torch.device, inference: bool,
                     images: ProbeImages | None, streams: CpuStreams | None) -> tuple[bool, str]:
    batch = _probe_batch(loader, device, labels=not inference)
    if batch is None:
        return False, "channels_last off (no image batch to measure it on)"
    img, label = batch
    key = _cache_key(model, img, precision, device, streams) + (" inference" if inference else "")

    def measure(clock: ProbeClock) -> dict[str, Any]:
        times = measure_step_times(model, img, label, precision, device, inference=inference, images=images,
                                   clock=clock, streams=streams)
        return {"channels_last": times["channels_last"] < (1 - MARGIN) * times["contiguous"],
                "contiguous_ms": round(times["contiguous"] * 1000, 2),
                "channels_last_ms": round(times["channels_last"] * 1000, 2)}

    found, how = _remembered("channels_last", key, measure, device)
    speed = found["contiguous_ms"] / max(found["channels_last_ms"], 1e-9)
    words = (f"channels_last {'on' if found['channels_last'] else 'off'} ({speed:.2f}x the speed of contiguous "
             f"tensors: {found['channels_last_ms']:.0f} vs {found['contiguous_ms']:.0f} ms per probe step of "
             f"{img.shape[0]} images; {how})")
    return bool(found["channels_last"]), words


def measure_step_times(model: nn.Module, img: torch.Tensor, label: torch.Tensor, precision, device: torch.device,
                       *, inference: bool = False, images: ProbeImages | None = None,
                       clock: ProbeClock | None = None, streams: CpuStreams | None = None) -> dict[str, float]:
    """The fastest forward+backward step (seconds) of a copy of ``model`` on ``img``, per memory format; with
    ``inference`` the fastest eval-mode forward pass, on batches of ``images`` (as many images as ``img``, their
    scores handed back) while it has any, split into one part per stream of ``streams`` when given. ``clock``
    accumulates the timed steps (their seconds, and how long the threads waited for a core)."""
    clock = clock or ProbeClock()
    state = capture_rng_state()
    try:
        probe = copy.deepcopy(model).train(not inference)
        formats = {"contiguous": torch.contiguous_format, "channels_last": torch.channels_last}
        best = {name: float("inf") for name in formats}
        for step, name in itertools.product(range(TIMED_STEPS + 1), formats):
            probe.to(memory_format=formats[name])
            taken = images.take(len(img)) if inference and images is not None else None
            inputs = (img if taken is None else taken.to(img.device)).contiguous(memory_format=formats[name])
            synchronize(device)
            clock.start()
            if inference:
                scores = torch.cat(_scored(probe.forward_test, list(inputs.chunk(_count(streams))), precision,
                                           streams))
            else:
                with precision.autocast():
                    losses = probe.forward_train(inputs, label)
                sum(value for name_, value in losses.items() if "loss" in name_).backward()
            synchronize(device)
            seconds = clock.stop()
            if step > 0:  # the first step of each format warms up (the time is for len(img) images)
                best[name] = min(best[name], seconds * len(img) / len(inputs))
            if taken is not None:
                images.keep(scores)
            probe.zero_grad(set_to_none=True)
        return best
    finally:
        restore_rng_state(state)


class InferenceChoice(NamedTuple):
    """The forward pass and batch size measured fastest, its speed (None when not measured), and why in words."""

    forward: str
    batch_size: int
    images_per_second: float | None
    reason: str


def choose_inference(model: nn.Module, loader, precision, device: torch.device, largest: int, channels_last: bool,
                     forwards: Mapping[str, Callable[[], Callable | None]], fixed_size: bool = False,
                     images: ProbeImages | None = None, streams: CpuStreams | None = None) -> InferenceChoice:
    """Of ``forwards`` (name -> a factory of a callable from a batch to scores, or of None where it cannot be
    made), the one and the batch size that score the most images per second, the size at most ``largest``
    (exactly it with ``fixed_size``). Sizes are found by doubling from 1
    while the time per image falls (on CPUs a few images per pass often beat 32, whose activations overflow the
    caches). The batches timed come from ``images`` (their scores handed back to it) while it has any, else
    they are copies of the loader's first image. With ``streams`` each timing runs its forward passes in the
    streams, as the job will, and measures their images per second together. Remembered like channels_last
    (``$MINIM_HOME/probes/inference.json``)."""
    first = next(iter(forwards))
    batch = _probe_batch(loader, device, labels=False)
    if batch is None:
        return InferenceChoice(first, largest, None,
                               f"{first} forward passes of {largest} images (no image batch to measure on)")
    img = batch[0][:1].contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
    key = (f"{_cache_key(model, img, precision, device, streams)} channels_last={channels_last} "
           f"{'exactly' if fixed_size else 'at most'} {largest} {'/'.join(forwards)}")

    def measure(clock: ProbeClock) -> dict[str, Any]:
        rates = {}
        for name, make in forwards.items():
            forward = make()
            if forward is None:
                continue
            def seconds(size, forward=forward):
                return _forward_seconds(forward, img, size, precision, device, images, clock, streams)
            rates[name] = (fastest_batch(seconds, largest, sizes=[largest]) if fixed_size
                           else fastest_batch(seconds, largest))
        name = max(rates, key=lambda n: rates[n]["images_per_second"])
        return {"forward": name, **rates[name], "rates": {n: r["images_per_second"] for n, r in rates.items()}}

    found, how = _remembered("inference", key, measure, device)
    others = ", ".join(f"{n} {r:.0f}" for n, r in found["rates"].items() if n != found["forward"])
    return InferenceChoice(found["forward"], found["batch_size"], found["images_per_second"], (
        f"{found['forward']} forward passes of {found['batch_size']} images ({found['images_per_second']:.0f} "
        f"images/s measured{'; ' + others if others else ''}; {how})"))


def fastest_batch(seconds_per_batch, largest: int, sizes: list[int] | None = None) -> dict[str, Any]:
    """``{'batch_size', 'images_per_second'}``: ``sizes`` (default 1, 2, 4, ... up to ``largest``, and ``largest``
    itself) timed with ``seconds_per_batch(size)`` until one is slower per image than the one before."""
    sizes = sizes or [size for size in (2 ** k for k in range(16)) if size < largest] + [largest]
    best_size, best_rate = 1, 0.0
    for size in sizes:
        rate = size / seconds_per_batch(size)
        if rate <= best_rate:
            break
        best_size, best_rate = size, rate
    return {"batch_size": best_size, "images_per_second": round(best_rate, 1)}


def _forward_seconds(forward: Callable, img: torch.Tensor, size: int, precision, device: torch.device,
                     images: ProbeImages | None = None, clock: ProbeClock | None = None,
                     streams: CpuStreams | None = None) -> float:
    """Seconds per image-``size`` call of ``forward`` (eval mode, no gradients), in ``img``'s memory format and
    device: the best of :data:`TIMED_STEPS` timings of enough calls for :data:`TIMED_IMAGES` images, after
    :data:`WARM_UP_CALLS` calls (TorchScript optimizes after its first ones). With ``streams`` the calls of
    each timing (and warm-up) run spread over them, a multiple of their count, and the seconds are the wall time
    per call's images. The batches come from ``images`` (taken before the clock starts, scores kept) while it
    has any, else they are copies of ``img[0]``."""
    clock = clock or ProbeClock()
    fmt = torch.channels_last if img.is_contiguous(memory_format=torch.channels_last) else torch.contiguous_format
    parallel = _count(streams)
    calls = -(-TIMED_IMAGES // (size * parallel)) * parallel

    def batches(count: int) -> list[tuple[torch.Tensor, bool]]:
        taken = [images.take(size) if images is not None else None for _ in range(count)]
        return [(img[:1].expand(size, -1, -1, -1).contiguous(memory_format=fmt), False) if batch is None
                else (batch.to(img.device).contiguous(memory_format=fmt), True) for batch in taken]

    def run(inputs: list[tuple[torch.Tensor, bool]]) -> float:
        synchronize(device)
        clock.start()
        scores = _scored(forward, [batch for batch, _ in inputs], precision, streams)
        synchronize(device)
        seconds = clock.stop()
        for result, (_, real) in zip(scores, inputs):
            if real:
                images.keep(result)
        return seconds / sum(len(batch) for batch, _ in inputs) * size

    for _ in range(WARM_UP_CALLS):
        run(batches(parallel))
    return min(run(batches(calls)) for _ in range(TIMED_STEPS))


def _scored(forward: Callable, batches: list[torch.Tensor], precision, streams: CpuStreams | None) -> list:
    """``forward`` of each batch without gradients, under ``precision``: in ``streams`` when given (each stream
    thread enters the modes itself: they are per thread). Not inference mode: a model evaluated during training
    must not keep inference tensors it made."""
    def run(batch: torch.Tensor):
        with torch.no_grad(), precision.autocast():
            return forward(batch)
    return streams.map(run, batches) if streams is not None else [run(batch) for batch in batches]


def _count(streams: CpuStreams | None) -> int:
    return streams.count if streams is not None else 1


#: answers measured while other processes took the cores, kept for this process only: (cache file, key) -> answer
_THIS_PROCESS: dict[tuple[str, str], dict[str, Any]] = {}


def _remembered(kind: str, key: str, measure: Callable[[ProbeClock], dict[str, Any]],
                device: torch.device) -> tuple[dict[str, Any], str]:
    """``(the answer under key, how it was found)``: from ``probe_cache_path(kind)``, else ``measure(clock)``d
    now and written there, unless other processes took the CPU cores while it measured (:data:`MIN_RUN_SHARE`):
    then it is kept for this process only."""
    path = probe_cache_path(kind)
    remembered = _read_cache(path)
    if key in remembered:
        return remembered[key], f"measured earlier, remembered in {path}"
    if (str(path), key) in _THIS_PROCESS:
        return _THIS_PROCESS[str(path), key], "measured earlier in this process, while other processes took the cores"
    clock = ProbeClock()
    found = measure(clock)
    share = clock.run_share()
    if device.type == "cpu" and share < MIN_RUN_SHARE:
        _THIS_PROCESS[str(path), key] = found  # the same choice for this process's later runs
        return found, (f"measured now, not remembered: other processes were taking the CPU cores (the probe's "
                       f"threads got one {share:.0%} of the time they wanted it)")
    remembered[key] = found
    try:
        write_text_atomic(path, json.dumps(remembered, indent=1, sort_keys=True))
    except OSError:
        pass  # a read-only cache folder only means measuring again next time
    return found, "measured now"


def _probe_batch(loader, device: torch.device, labels: bool = True) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    """The first images and labels the loader will give (its sampler's first keys, collated), on the device and
    normalized as the runner will see them; None when they are not ``N x C x H x W`` with N >= 2, or when
    ``labels`` are wanted and there are none (a test pipeline may collect the images only)."""
    size = min(loader.batch_size, CPU_PROBE_BATCH) if device.type == "cpu" else loader.batch_size
    state = capture_rng_state()
    try:
        keys = list(itertools.islice(iter(loader.sampler), size))
        batch = loader.collate_fn([loader.dataset[key] for key in keys])
    finally:
        restore_rng_state(state)
    img, label = batch.get("img"), batch.get("gt_label")
    if not isinstance(img, torch.Tensor) or img.dim() != 4 or img.shape[0] < 2 or (labels and label is None):
        return None
    normalizer = getattr(loader, "normalizer", None)
    img = img.to(device)
    img = normalizer(img) if normalizer is not None else img.float()
    return img, label.to(device) if label is not None else None


def _cache_key(model: nn.Module, img: torch.Tensor, precision, device: torch.device,
               streams: CpuStreams | None = None) -> str:
    architecture = hashlib.sha256(repr(model).encode()).hexdigest()[:16]
    shape = "x".join(str(n) for n in img.shape)
    return (f"{architecture} {shape} {precision.describe()} {_device_name(device, streams)} "
            f"torch {torch.__version__}")


def _device_name(device: torch.device, streams: CpuStreams | None = None) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu" and streams is not None:
        return f"{_cpu_model()} ({streams.count} streams of 1 thread)"
    if device.type == "cpu":
        return f"{_cpu_model()} ({torch.get_num_threads()} threads)"
    return device.type


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
