"""Image cache, collate, samplers and build_dataloader of the cls engine."""

from __future__ import annotations

import shutil

import pytest
import torch
from torch.utils.data import DistributedSampler

from cls_data_support import NORM_RGB, write_image, write_tree
from minim.cls.datasets import CustomDataset, ShardedSampler, build_dataloader, build_dataset, collate
from minim.cls.datasets import base as dataset_base
from minim.errors import BuildError, DataError

TRAIN_PIPELINE = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", size=8),
    dict(type="RandomFlip", flip_prob=0.5),
    dict(type="Normalize", **NORM_RGB),
    dict(type="ImageToTensor", keys=["img"]),
    dict(type="ToTensor", keys=["gt_label"]),
    dict(type="Collect", keys=["img", "gt_label"]),
]


def _dataset(root, **kwargs):
    return build_dataset(dict(type="CustomDataset", data_prefix=str(root), pipeline=TRAIN_PIPELINE, **kwargs))


def test_cache_keeps_decoded_images_after_the_files_are_gone(tmp_path):
    write_tree(tmp_path / "data", {"a": 3, "b": 3}, size=(7, 5))
    ds = _dataset(tmp_path / "data", cache_images=True)
    assert ds.cache_enabled
    first = [ds[i]["img"].clone() for i in range(len(ds))]
    shutil.rmtree(tmp_path / "data")
    again = [ds[i] for i in range(len(ds))]
    for before, after in zip(first, again):
        assert after["img"].shape == (3, 8, 8)
        assert torch.equal(before, after["img"]) or torch.equal(before, after["img"].flip(-1))
    assert again[0]["img_metas"]["ori_shape"] == (5, 7, 3) and again[0]["img_metas"]["img_shape"] == (8, 8, 3)


def test_cached_prefix_stops_at_the_first_random_transform_and_stays_unmodified(tmp_path):
    write_image(tmp_path / "a" / "x.png", size=(8, 8), color=(10, 20, 30))
    (tmp_path / "a" / "x.png").unlink()
    left_half = torch.zeros(3, 8, 8, dtype=torch.uint8)
    left_half[:, :, :4] = 255
    from PIL import Image

    Image.fromarray(left_half.permute(1, 2, 0).numpy()).save(tmp_path / "a" / "x.png")
    pipeline = [dict(type="LoadImageFromFile"), dict(type="RandomFlip", flip_prob=1.0)]
    ds = CustomDataset(str(tmp_path), pipeline=pipeline, cache_images=True)
    assert ds.pipeline.num_cacheable == 1
    for _ in range(3):  # the cached image is never flipped in place
        assert ds[0]["img"][0, 0, 7] == 255 and ds[0]["flip"] is True


def test_cache_auto_respects_the_size_limit(tmp_path, monkeypatch):
    write_tree(tmp_path, {"a": 2})
    assert _dataset(tmp_path, cache_images="auto").cache_enabled
    monkeypatch.setattr(dataset_base, "CACHE_AUTO_LIMIT_BYTES", 100)
    assert not _dataset(tmp_path, cache_images="auto").cache_enabled
    assert not _dataset(tmp_path).cache_enabled  # 'auto' is the default
    monkeypatch.setattr(dataset_base, "CACHE_AUTO_LIMIT_BYTES", 1 << 30)
    assert _dataset(tmp_path).cache_enabled
    assert not _dataset(tmp_path, cache_images=False).cache_enabled
    with pytest.raises(BuildError, match="cache_images"):
        _dataset(tmp_path, cache_images="yes")


def test_cache_without_a_cacheable_prefix_warns(tmp_path):
    write_tree(tmp_path, {"a": 1})
    with pytest.warns(UserWarning, match="no effect"):
        ds = CustomDataset(str(tmp_path), pipeline=[dict(type="RandomFlip")], cache_images=True)
    assert not ds.cache_enabled


def test_prepare_cache_fills_every_entry(tmp_path):
    write_tree(tmp_path, {"a": 3, "b": 2})
    ds = _dataset(tmp_path, cache_images=True)
    ds.prepare_cache(num_threads=2)
    assert sorted(ds._cache) == list(range(5))


def test_collate_batches_images_labels_and_metas(tmp_path):
    write_tree(tmp_path, {"a": 2, "b": 1})
    ds = _dataset(tmp_path)
    batch = collate([ds[i] for i in range(3)])
    assert batch["img"].shape == (3, 3, 8, 8) and batch["img"].dtype == torch.float32
    assert batch["gt_label"].dtype == torch.int64 and batch["gt_label"].tolist() == [0, 0, 1]
    assert isinstance(batch["img_metas"], list) and batch["img_metas"][2]["ori_filename"] == "b/img0.png"


def test_collate_names_shape_mismatches(tmp_path):
    with pytest.raises(DataError, match="different shapes"):
        collate([{"img": torch.zeros(3, 4, 4)}, {"img": torch.zeros(3, 5, 4)}])


def test_sampler_matches_torch_distributed_sampler():
    data = list(range(11))
    for rank in range(3):
        ours = ShardedSampler(data, shuffle=True, seed=7, rank=rank, world_size=3)
        theirs = DistributedSampler(data, num_replicas=3, rank=rank, shuffle=True, seed=7)
        for epoch in (0, 1):
            ours.set_epoch(epoch)
            theirs.set_epoch(epoch)
            assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == 4


def test_unpadded_shards_cover_each_sample_once():
    data = list(range(10))
    shards = [list(ShardedSampler(data, shuffle=True, seed=1, rank=r, world_size=4, pad=False)) for r in range(4)]
    assert sorted(sum(shards, [])) == data
    assert [len(s) for s in shards] == [3, 3, 2, 2]
    blocks = [ShardedSampler(data, shuffle=False, rank=r, world_size=2, pad=False, block=3) for r in range(2)]
    assert [list(s) for s in blocks] == [[0, 1, 2, 6, 7, 8], [3, 4, 5, 9]]  # whole batches of one process
    assert [len(s) for s in blocks] == [6, 4]


def test_sampler_epochs_and_seed():
    data = list(range(20))
    sampler = ShardedSampler(data, shuffle=True, seed=3)
    epoch0 = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != epoch0 and sorted(sampler) == data
    sampler.set_epoch(0)
    assert list(sampler) == epoch0
    assert list(ShardedSampler(data, shuffle=False)) == data
    torch.manual_seed(5)
    a = list(ShardedSampler(data, shuffle=True))
    torch.manual_seed(5)
    assert list(ShardedSampler(data, shuffle=True)) == a
    with pytest.raises(BuildError, match="rank"):
        ShardedSampler(data, rank=2, world_size=2)


def test_build_dataloader_single_process(tmp_path):
    write_tree(tmp_path, {"a": 3, "b": 2})
    loader = build_dataloader(_dataset(tmp_path), 2, 0, shuffle=True, seed=0, drop_last=True)
    assert isinstance(loader.sampler, ShardedSampler)
    batches = list(loader)
    assert len(loader) == 2 and len(batches) == 2 and batches[0]["img"].shape == (2, 3, 8, 8)
    loader.sampler.set_epoch(1)
    assert sum(len(b["gt_label"]) for b in loader) == 4


def test_build_dataloader_distributed_shards(tmp_path):
    write_tree(tmp_path, {"a": 3, "b": 2})
    ds = _dataset(tmp_path)
    seen = []
    for rank in range(2):
        loader = build_dataloader(ds, 8, 0, shuffle=False, dist=True, rank=rank, world_size=2, round_up=False)
        seen += [m["ori_filename"] for b in loader for m in b["img_metas"]]
    assert sorted(seen) == sorted(i["img_info"]["filename"] for i in ds.data_infos)


def test_worker_errors_keep_the_one_line_message(tmp_path):
    write_tree(tmp_path, {"a": 1})
    (tmp_path / "a" / "bad.png").write_bytes(b"not a png")
    ds = CustomDataset(str(tmp_path), pipeline=TRAIN_PIPELINE, cache_images=False)
    loader = build_dataloader(ds, 2, 1, shuffle=False, persistent_workers=False)
    with pytest.raises(DataError) as info:
        list(loader)
    message = str(info.value)
    assert "\n" not in message and message.startswith("cannot decode image") and "bad.png" in message


def test_workers_share_the_prefilled_cache_and_seed_augmentations(tmp_path):
    write_tree(tmp_path / "data", {"a": 4, "b": 4}, size=(5, 5))
    ds = _dataset(tmp_path / "data", cache_images=True)
    loader = build_dataloader(ds, 4, 2, shuffle=True, seed=3, persistent_workers=False)
    assert len(ds._cache) == len(ds)  # filled before the workers started
    shutil.rmtree(tmp_path / "data")
    first = torch.cat([b["img"] for b in loader])
    second = torch.cat([b["img"] for b in build_dataloader(ds, 4, 2, shuffle=True, seed=3, persistent_workers=False)])
    assert first.shape == (8, 3, 8, 8) and torch.equal(first, second)
