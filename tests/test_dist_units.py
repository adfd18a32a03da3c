"""Distributed pieces that run in one process: rank sharding of the training sampler, state digests, and the
whole DDP training path in a real one-rank gloo group (fast; the two-process runs are in test_dist.py)."""

from __future__ import annotations

import pytest
import torch

from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg, read_json_log
from minim.cls.datasets.samplers import EpochSampler
from minim.cls.engine.dist import (
    all_reduce_mean,
    broadcast_buffers,
    get_world_size,
    main_process_first,
    replica_digests,
    state_dict_sha256,
)
from minim.errors import ConfigError


def test_rank_shards_partition_every_epoch_like_one_process():
    single = EpochSampler(9, seed=4, rank=0, world_size=1)
    shards = [EpochSampler(9, seed=4, rank=r, world_size=2) for r in range(2)]
    for epoch in range(3):
        for sampler in (single, *shards):
            sampler.set_epoch(epoch)
        whole = list(single)
        parts = [list(s) for s in shards]
        assert [len(p) for p in parts] == [5, 5] and [len(s) for s in shards] == [5, 5]
        assert parts[0] + parts[1][:4] == whole[0::2] + whole[1::2]  # interleaved, same per-sample seeds
        assert parts[1][4] == whole[0]  # padded with the first sample, as DistributedSampler does
    shards[0].set_epoch(0)
    first = list(shards[0])
    shards[0].set_epoch(1)
    assert list(shards[0]) != first


def test_state_digest_tracks_values_dtypes_and_names():
    a = {"w": torch.arange(4.0), "n": torch.tensor(3)}
    assert state_dict_sha256(a) == state_dict_sha256({"n": torch.tensor(3), "w": torch.arange(4.0)})
    assert state_dict_sha256(a) != state_dict_sha256({"w": torch.arange(4.0) + 1e-7, "n": torch.tensor(3)})
    assert state_dict_sha256(a) != state_dict_sha256({"w": torch.arange(4.0).double(), "n": torch.tensor(3)})
    assert state_dict_sha256(a) != state_dict_sha256({"v": torch.arange(4.0), "n": torch.tensor(3)})


def test_helpers_are_no_ops_without_a_process_group():
    model = TinyClassifier()
    value = torch.tensor([1.0, 2.0])
    assert all_reduce_mean(value) is value and get_world_size() == 1
    broadcast_buffers(model)
    assert replica_digests(model) == [state_dict_sha256(model.state_dict())]
    with main_process_first():
        pass


def test_distributed_train_model_needs_a_process_group(tmp_path):
    from minim.cls.apis import train_model

    with pytest.raises(ConfigError, match="initialised process group"):
        train_model(TinyClassifier(), [NoisyDataset()], engine_cfg(tmp_path), distributed=True, device="cpu",
                    validate=False, console=False)


@pytest.fixture
def one_rank_group(monkeypatch):
    """A real gloo process group of one rank, as torchrun would set it up."""
    from minim.cls.engine.dist import destroy_distributed, init_distributed
    from minim.launch import free_port

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", str(free_port()))
    setup = init_distributed("pytorch", backend="nccl", device="cpu")
    try:
        yield setup
    finally:
        destroy_distributed()


def test_ddp_training_path_in_a_one_rank_group(one_rank_group, tmp_path):
    from minim.cls.apis import train_model
    from minim.cls.engine.dist import is_distributed

    setup = one_rank_group
    assert setup.device == torch.device("cpu") and setup.backend == "gloo" and (setup.rank, setup.world_size) == (0, 1)
    assert setup.notes == ["dist_params.backend='nccl' needs CUDA; using gloo for CPU processes"]
    torch.manual_seed(0)
    model = TinyClassifier()
    cfg = engine_cfg(tmp_path, sync_bn=True)
    runner = train_model(model, [NoisyDataset()], cfg, distributed=True, device=setup.device,
                         val_dataset=NoisyDataset(seed=1), console=False)
    assert type(runner.train_module).__name__ == "DistributedDataParallel"
    assert runner.train_module.module.model is model and runner.model is model
    text = next(tmp_path.glob("*.log")).read_text()
    assert "sync_bn: SyncBatchNorm needs CUDA" in text
    assert "model state identical on all 1 ranks" in text
    records = read_json_log(tmp_path)
    assert [r["epoch"] for r in records if r.get("mode") == "val"] == [1, 2]
    checkpoint = torch.load(tmp_path / "latest.pth", weights_only=False)
    assert not any(key.startswith("module.") for key in checkpoint["state_dict"])  # the plain model is saved
    from minim.cls.apis import multi_gpu_test, single_gpu_test
    from minim.cls.engine.data import build_eval_loader

    loader = build_eval_loader(NoisyDataset(n=5), {"samples_per_gpu": 2, "workers_per_gpu": 0}, setup.device)
    rows = multi_gpu_test(model, loader)  # NoisyDataset draws new noise on every read: compare shapes
    assert [row.shape for row in rows] == [row.shape for row in single_gpu_test(model, loader)] == [(4,)] * 5
    assert is_distributed()


def test_each_rank_evaluates_whole_batches_of_one_process(monkeypatch):
    import torch

    from minim.cls.engine import data

    dataset = list(range(11))
    settings = dict(samples_per_gpu=3, workers_per_gpu=0)
    single = list(data.build_eval_loader(dataset, settings, torch.device("cpu")).batch_sampler)
    monkeypatch.setattr(data, "get_world_size", lambda: 2)
    shards = []
    for rank in range(2):
        monkeypatch.setattr(data, "get_rank", lambda rank=rank: rank)
        shards.append(list(data.build_eval_loader(dataset, settings, torch.device("cpu")).batch_sampler))
    # the same batches as one process, dealt out in turn: the scores are the same bit for bit
    assert shards == [single[0::2], single[1::2]]
