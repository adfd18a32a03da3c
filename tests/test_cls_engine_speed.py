"""The speed settings the engine chooses by itself (cache, workers, channels_last probe, header words), the one
sampler family (same indices and per-sample seeds as before, resume mid-epoch) and mmcls's loader keys."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import torch

from cls_data_support import write_tree
from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
from minim.cls.datasets import build_dataloader, build_dataset
from minim.cls.datasets import base as dataset_base
from minim.cls.datasets.samplers import EpochSampler, RepeatAugSampler, SeededDataset, ShardedSampler
from minim.cls.engine import data, probe
from minim.cls.engine.device import Precision
from minim.errors import ConfigError
from minim.launch.commands import usable_cpu_count

PIPELINE = [dict(type="LoadImageFromFile"), dict(type="Resize", size=8), dict(type="RandomFlip", flip_prob=0.5),
            dict(type="ImageToTensor", keys=["img"]), dict(type="ToTensor", keys=["gt_label"]),
            dict(type="Collect", keys=["img", "gt_label"])]


def _epoch_pairs_before(size, seed, epoch, rank, world_size, shuffle=True):
    """The training order and seeds as the engine drew them before the sampler family (the reference)."""
    generator = torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7919 + 12345) % (2**63))
    order = torch.randperm(size, generator=generator) if shuffle else torch.arange(size)
    seeds = torch.randint(0, 2**62, (size,), generator=generator)
    total = -(-size // world_size) * world_size
    order, seeds = torch.cat([order, order[: total - size]]), torch.cat([seeds, seeds[: total - size]])
    return list(zip(seeds[rank:total:world_size].tolist(), order[rank:total:world_size].tolist()))


@pytest.mark.parametrize("size, world_size", [(10, 1), (9, 2), (10, 2)])
def test_training_sampler_keeps_its_indices_and_seeds_and_resumes_mid_epoch(size, world_size):
    for rank in range(world_size):
        sampler = EpochSampler(size, seed=4, rank=rank, world_size=world_size)
        for epoch, shuffle in ((0, True), (3, True), (1, False)):
            sampler.shuffle = shuffle
            sampler.set_epoch(epoch)
            sampler.set_start(0)
            expected = _epoch_pairs_before(size, 4, epoch, rank, world_size, shuffle)
            assert list(sampler) == expected and len(sampler) == len(expected)
            sampler.set_start(2)
            assert list(sampler) == expected[2:] and len(sampler) == len(expected) - 2


def test_unpadded_training_shares_repeat_nothing():
    shares = [list(EpochSampler(9, seed=1, rank=r, world_size=2, pad=False)) for r in range(2)]
    assert [len(s) for s in shares] == [5, 4] and sorted(i for s in shares for _, i in s) == list(range(9))


def test_build_dataloader_is_the_engines_builder(tmp_path):
    write_tree(tmp_path, {"a": 3, "b": 2})
    ds = build_dataset(dict(type="CustomDataset", data_prefix=str(tmp_path), pipeline=PIPELINE))
    loader = build_dataloader(ds, 2, 0, shuffle=True, seed=5, per_sample_seeds=True)
    assert isinstance(loader.sampler, EpochSampler) and isinstance(loader.dataset, SeededDataset)
    first = [b["img"] for b in loader]
    assert all(torch.equal(a, b) for a, b in zip(first, [b["img"] for b in loader]))  # same seeds, same flips
    mmcls = build_dataloader(ds, 2, 0, shuffle=False, dist=True, rank=1, world_size=2,
                             sampler_cfg=dict(type="DistributedSampler", round_up=False))
    assert isinstance(mmcls.sampler, ShardedSampler) and list(mmcls.sampler) == [1, 3]
    assert list(build_dataloader(ds, 2, 0, shuffle=False, dist=True, rank=1, world_size=2).sampler) == [1, 3, 0]
    with pytest.raises(ConfigError, match="sampler type 'RandomSampler' is not supported"):
        build_dataloader(ds, 2, 0, shuffle=True, sampler_cfg=dict(type="RandomSampler"))
    with pytest.raises(ConfigError, match="RepeatAugSampler is a training sampler"):
        build_dataloader(ds, 2, 0, shuffle=False, sampler_cfg=dict(type="RepeatAugSampler"))


#: mmcls 0.25's RepeatAugSampler over 10 samples on 2 ranks without shuffling (recorded from mmcls)
MMCLS_REPEAT_AUG = [(dict(selected_round=0), [[0, 0, 1, 2, 2], [0, 1, 1, 2, 3]]),
                    (dict(selected_round=4), [[0, 0, 1, 2], [0, 1, 1, 2]]),
                    (dict(selected_round=4, selected_ratio=1), [[0, 0, 1, 2, 2, 3, 4, 4], [0, 1, 1, 2, 3, 3, 4, 5]])]


@pytest.mark.parametrize("options, expected", MMCLS_REPEAT_AUG)
def test_repeat_aug_sampler_deals_as_mmcls_with_a_seed_per_copy(options, expected):
    shares = [RepeatAugSampler(10, shuffle=False, rank=r, world_size=2, **options) for r in range(2)]
    assert [[index for _, index in share] for share in shares] == expected
    assert [len(share) for share in shares] == [len(e) for e in expected]
    seeds = [seed for share in shares for seed, _ in share]
    assert len(set(seeds)) == len(seeds)  # the copies of an image get different augmentations
    shares[0].set_start(2)
    assert [index for _, index in shares[0]] == expected[0][2:] and len(shares[0]) == len(expected[0]) - 2


def test_top_level_sampler_reaches_the_training_loader_only():
    from minim.cls.loader_settings import loader_settings

    data = dict(samples_per_gpu=2)
    sampler = dict(type="RepeatAugSampler", selected_round=0)
    assert loader_settings(data, "train", sampler)["sampler_cfg"] is sampler
    assert "sampler_cfg" not in loader_settings(data, "val", sampler)
    own = dict(type="DistributedSampler")  # data's own sampler_cfg wins, as in mmcls
    assert loader_settings({**data, "sampler_cfg": own}, "train", sampler)["sampler_cfg"] is own
    loader = build_dataloader(NoisyDataset(n=6), 2, 0, shuffle=True, seed=1, per_sample_seeds=True,
                              sampler_cfg=sampler)
    assert isinstance(loader.sampler, RepeatAugSampler) and len(loader.sampler) == 6
    with pytest.raises(ConfigError, match="selects no sample per epoch: the dataset has 6 images"):
        build_dataloader(NoisyDataset(n=6), 2, 0, shuffle=True, per_sample_seeds=True,
                         sampler_cfg=dict(type="RepeatAugSampler"))


def test_uneven_training_shares_that_would_stall_ranks_are_refused():
    loader = build_dataloader(NoisyDataset(n=9), 4, 0, shuffle=True, seed=0, dist=True, rank=0, world_size=2,
                              round_up=False, per_sample_seeds=True)
    with pytest.raises(ConfigError, match="round_up=False gives the 2 processes 1 or 2 training batches"):
        data._check_equal_batch_counts(loader)
    even = build_dataloader(NoisyDataset(n=8), 4, 0, shuffle=True, dist=True, rank=0, world_size=2,
                            round_up=False, per_sample_seeds=True)
    data._check_equal_batch_counts(even)


def test_cache_auto_decides_by_the_budget_and_says_so(tmp_path, monkeypatch):
    write_tree(tmp_path, {"a": 2, "b": 2})
    cfg = dict(type="CustomDataset", data_prefix=str(tmp_path), pipeline=PIPELINE)
    summary = build_dataset(cfg).cache_summary()
    assert summary.startswith("decoded images kept in memory (4 images") and "fits the memory budget" in summary
    monkeypatch.setattr(dataset_base, "CACHE_AUTO_LIMIT_BYTES", 100)
    small = build_dataset(cfg)
    assert not small.cache_enabled and "> the 0.0 MB budget" in small.cache_summary()
    assert build_dataset({**cfg, "cache_images": True}).cache_enabled  # an explicit True still wins
    assert build_dataset({**cfg, "cache_images": False}).cache_summary() == "not cached (cache_images=False)"


def test_workers_follow_the_measured_loading_cost():
    cheap, costly = data.LoadingCost(1e-5, {(3, 8, 8)}), data.LoadingCost(0.05, {(3, 8, 8)})
    assert data.choose_workers(2, cheap, 32)[0] == 0
    workers, words = data.choose_workers(2, costly, 32)
    assert workers == min(2, data.effective_workers(2)) >= 1 and "50.00 ms per image" in words
    assert data.choose_workers(0, costly, 32) == (0, "0 DataLoader workers (workers_per_gpu=0)")
    workers, words = data.choose_workers(2, costly, 32, cpu_seconds_per_sample=0.08)  # the model needs the cores
    assert workers == 0 and "the model 80.00 ms on the same CPU cores" in words
    loading_costs_more = data.choose_workers(2, costly, 32, cpu_seconds_per_sample=0.01)[0]
    assert loading_costs_more == min(2, data.effective_workers(2))
    before = torch.get_rng_state()
    cost = data.measure_loading(NoisyDataset(n=5))  # its samples draw noise from the global generators
    assert torch.equal(torch.get_rng_state(), before) and cost.fixed_size


def _probe_loader():
    return build_dataloader(NoisyDataset(n=8), 4, 0, shuffle=True, seed=0, per_sample_seeds=True)


def test_channels_last_probe_is_measured_once_then_remembered_and_explicit_settings_win(monkeypatch):
    monkeypatch.setattr(probe, "MIN_RUN_SHARE", 0.0)  # remembered whatever else this machine runs meanwhile
    model, precision, cpu = TinyClassifier(), Precision(torch.device("cpu")), torch.device("cpu")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    chosen, words = probe.choose_channels_last({}, model, _probe_loader(), precision, cpu)
    assert "measured now" in words and all(torch.equal(v, before[k]) for k, v in model.state_dict().items())
    (entry,) = json.loads(probe.probe_cache_path().read_text()).values()
    assert entry["channels_last"] is chosen and entry["contiguous_ms"] > 0
    monkeypatch.setattr(probe, "measure_step_times", None)  # a second measurement would fail
    again, words = probe.choose_channels_last({}, model, _probe_loader(), precision, cpu)
    assert again is chosen and "remembered in" in words
    assert probe.choose_channels_last({"channels_last": False}, model, None, precision, cpu)[0] is False
    assert probe.choose_channels_last({"channels_last": True}, model, None, precision, cpu)[0] is True
    assert probe.choose_channels_last({"deterministic": True}, model, None, precision, cpu) == (
        False, "channels_last off (--deterministic: no timing-dependent choices)")


def test_cpu_streams_run_torch_on_one_thread_each_and_give_the_threads_back():
    import threading

    from minim.cls.engine.streams import CpuStreams

    threads = torch.get_num_threads()
    seen = []

    def square(value):
        seen.append((threading.current_thread().name, torch.get_num_threads()))
        return value * value

    with CpuStreams(2) as streams:
        assert torch.get_num_threads() == 1
        assert streams.map(square, range(6)) == [0, 1, 4, 9, 16, 25]  # in the items' order
        assert streams.submit(square, 7).result() == 49
    assert torch.get_num_threads() == threads
    assert {name.rsplit("_", 1)[0] for name, _ in seen} == {"minim-stream"} and {used for _, used in seen} == {1}
    with pytest.raises(ValueError), CpuStreams(2):
        raise ValueError("a job that fails")
    assert torch.get_num_threads() == threads


def test_an_inference_probe_in_streams_times_as_many_calls_in_each_stream():
    import threading

    from minim.cls.engine.streams import CpuStreams

    cpu, calls = torch.device("cpu"), []

    def forward(batch):
        calls.append((threading.current_thread().name, not torch.is_grad_enabled(), len(batch)))
        return torch.zeros(len(batch), 2)

    img = torch.zeros(1, 3, 8, 8)
    with CpuStreams(2) as streams:
        seconds = probe._forward_seconds(forward, img, 4, Precision(cpu), cpu, streams=streams)
    assert seconds > 0
    timed = calls[2 * probe.WARM_UP_CALLS:]  # (each warm-up: one call per stream)
    # enough calls for TIMED_IMAGES images, rounded up to a multiple of the streams, per timing
    assert len(timed) == probe.TIMED_STEPS * 2 * -(-probe.TIMED_IMAGES // 8)
    assert all(name.startswith("minim-stream") and no_grad and size == 4 for name, no_grad, size in calls)


def _busy_forward(batch):
    """A forward pass that keeps one core busy for about 30 ms (the scheduler shares a core in slices of a few)."""
    deadline = time.thread_time() + 0.03
    while time.thread_time() < deadline:
        pass
    return torch.zeros(len(batch), 2)


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or not os.path.exists("/proc/self/task"),
                    reason="needs Linux's CPU affinity and per-thread scheduler statistics")
def test_a_probe_measured_while_other_processes_take_the_cores_is_not_remembered():
    """Two processes spinning on the one core this test runs on: the probe's answer serves its run only."""
    affinity, threads = os.sched_getaffinity(0), torch.get_num_threads()
    os.sched_setaffinity(0, {max(affinity)})
    torch.set_num_threads(1)
    spinners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]  # (same core)
    try:
        time.sleep(0.2)
        loader, cpu = _probe_loader(), torch.device("cpu")
        choice = probe.choose_inference(TinyClassifier(), loader, Precision(cpu), cpu, 4, False,
                                        {"busy": lambda: _busy_forward}, fixed_size=True)
        again = probe.choose_inference(TinyClassifier(), loader, Precision(cpu), cpu, 4, False,
                                       {"busy": lambda: None}, fixed_size=True)  # (measuring again would fail)
    finally:
        for spinner in spinners:
            spinner.kill()
            spinner.wait()
        os.sched_setaffinity(0, affinity)
        torch.set_num_threads(threads)
    assert choice.forward == "busy" and choice.batch_size == 4
    assert "measured now, not remembered: other processes were taking the CPU cores" in choice.reason
    assert not probe.probe_cache_path("inference").exists()
    assert again.forward == "busy" and "measured earlier in this process" in again.reason


def test_run_header_says_what_the_engine_chose(tmp_path):
    from minim.cls.apis import train_model

    cfg = engine_cfg(tmp_path, runner=dict(type="EpochBasedRunner", max_epochs=1), channels_last=False)
    train_model(TinyClassifier(), [NoisyDataset(n=8)], cfg, validate=True, device="cpu",
                val_dataset=NoisyDataset(n=4, seed=1), console=False)
    log = next(tmp_path.glob("*.log")).read_text()
    header = next(line for line in log.splitlines() if "speed choices" in line)
    assert "channels_last off (set by the config or --channels-last)" in header
    assert "train: 0 DataLoader workers (workers_per_gpu=0)" in header
    streams = usable_cpu_count()
    assert (f"val: read and scored in {streams} CPU streams of one thread each" if streams > 1
            else "val: 0 DataLoader workers (workers_per_gpu=0)") in log
