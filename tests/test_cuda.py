"""The CUDA paths, on a machine with a GPU (skipped elsewhere; ``python -m pytest -m cuda`` runs only these).

- ``fp16`` / ``--amp`` on CUDA is fp16 autocast with a GradScaler, and training stays finite;
- ``channels_last`` puts the weights of a CUDA model in channels_last memory format, and the
  per-batch Normalize on the GPU gives the same values as the CPU one;
- ``minim train --launcher pytorch --gpus N --sync-bn --amp --channels-last`` joins an NCCL group
  (one process per visible GPU, at most 2), keeps the replicas identical, and ``minim test`` over NCCL
  gives the single-process metrics;
- ``inference_model`` on CUDA predicts what it predicts on the CPU.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from conftest import minim_subprocess

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def _train_tiny_on_cuda(work_dir, **overrides):
    from cls_engine_support import NoisyDataset, TinyClassifier, engine_cfg
    from minim.cls.apis import train_model

    torch.manual_seed(0)
    cfg = engine_cfg(work_dir, **overrides)
    return train_model(TinyClassifier(), [NoisyDataset()], cfg, validate=True, device="cuda",
                       val_dataset=NoisyDataset(seed=1), console=False)


def test_fp16_on_cuda_uses_a_grad_scaler_and_stays_finite(tmp_path):
    from cls_engine_support import read_json_log

    runner = _train_tiny_on_cuda(tmp_path, fp16=dict(loss_scale="dynamic"))
    assert runner.precision.dtype is torch.float16 and runner.scaler is not None
    assert runner.epoch == 2
    losses = [r["loss"] for r in read_json_log(tmp_path)[1:] if r["mode"] == "train"]
    assert losses and np.isfinite(losses).all()
    assert all(p.device.type == "cuda" and p.dtype is torch.float32 for p in runner.model.parameters())


def test_channels_last_on_cuda_converts_the_weights(tmp_path):
    runner = _train_tiny_on_cuda(tmp_path, channels_last=True)
    convs = [m.weight for m in runner.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_cuda and w.is_contiguous(memory_format=torch.channels_last) for w in convs)


def test_batch_normalize_on_the_gpu_equals_the_cpu():
    from minim.cls.engine.device_loader import BatchNormalizer

    normalizer = BatchNormalizer(torch.tensor([123.675, 116.28, 103.53]), torch.tensor([58.395, 57.12, 57.375]))
    batch = torch.randint(0, 256, (4, 3, 17, 19), dtype=torch.uint8)
    on_gpu = normalizer(batch.cuda())
    assert on_gpu.is_cuda and on_gpu.dtype is torch.float32
    torch.testing.assert_close(on_gpu.cpu(), normalizer(batch), rtol=0, atol=1e-6)


def _gpus() -> int:
    return min(2, torch.cuda.device_count())


@pytest.fixture(scope="module")
def nccl_trained(tmp_path_factory):
    from dist_support import write_dist_setup

    root = tmp_path_factory.mktemp("nccl")
    config = write_dist_setup(root)
    done = minim_subprocess("train", "cls", str(config), "--launcher", "pytorch", "--gpus", str(_gpus()),
                            "--sync-bn", "--amp", "--channels-last", "--work-dir", str(root / "work"),
                            cwd=root, timeout=600)
    return root, root / "work", done


def test_torchrun_on_gpus_joins_an_nccl_group_and_keeps_replicas_identical(nccl_trained):
    root, work, done = nccl_trained
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    text = next(work.glob("*.log")).read_text()
    assert f"world size {_gpus()} (nccl)" in text and "fp16 autocast on cuda" in text and "channels_last" in text
    assert "SyncBatchNorm" in text or _gpus() == 1
    if _gpus() > 1:
        digests = re.search(r"replica state sha256: rank 0: (\w+), rank 1: (\w+)", text)
        assert digests and digests.group(1) == digests.group(2)
    assert (work / "latest.pth").exists()


def test_nccl_test_run_equals_the_single_process_one(nccl_trained):
    root, work, done = nccl_trained
    assert done.returncode == 0, done.stderr[-3000:]
    config, checkpoint = work / "dist_cfg.py", work / "latest.pth"
    dist = minim_subprocess("test", "cls", str(config), "--checkpoint", str(checkpoint), "--launcher", "pytorch",
                            "--gpus", str(_gpus()), "--out", str(root / "dist.json"), cwd=root, timeout=600)
    single = minim_subprocess("test", "cls", str(config), "--checkpoint", str(checkpoint), "--device", "cuda",
                              "--out", str(root / "single.json"), cwd=root, timeout=600)
    assert dist.returncode == 0 and single.returncode == 0, dist.stderr[-2000:] + single.stderr[-2000:]
    a, b = (json.loads((root / name).read_text()) for name in ("dist.json", "single.json"))
    assert a["metrics"] == b["metrics"] and len(a["predictions"]) == 9
    assert [p["pred_label"] for p in a["predictions"]] == [p["pred_label"] for p in b["predictions"]]


def test_inference_on_cuda_predicts_what_the_cpu_predicts(nccl_trained):
    from minim.cls.apis import inference_model, init_model

    root, work, done = nccl_trained
    assert done.returncode == 0, done.stderr[-3000:]
    image = next((root / "data" / "val").rglob("*.png"))
    results = [inference_model(init_model(str(work / "dist_cfg.py"), str(work / "latest.pth"), device=device),
                               str(image)) for device in ("cpu", "cuda")]
    assert results[0]["pred_label"] == results[1]["pred_label"]
    assert results[0]["pred_score"] == pytest.approx(results[1]["pred_score"], abs=1e-3)
