"""GPUs for parallel grid-search runs: disjoint CUDA_VISIBLE_DEVICES per run."""

from __future__ import annotations

import threading
import time

import pytest

from minim.errors import UsageError
from minim.gridsearch.devices import GpuPool, gpu_pool, gpus_per_run, option_value, visible_gpus


def test_option_values_in_both_spellings():
    assert option_value(["--gpus", "2", "--seed", "1"], "--gpus") == "2"
    assert option_value(["--gpus=4"], "--gpus") == "4"
    assert option_value(["--gpus-per-node", "8"], "--gpus") is None


@pytest.mark.parametrize("args, expected", [
    ([], 1), (["--gpus", "2", "--launcher", "pytorch"], 2), (["--gpus", "0"], 0),
    (["--device", "cpu"], 0), (["--launcher", "slurm", "--gpus", "8"], 0),
])
def test_gpus_per_run(args, expected):
    assert gpus_per_run(args) == expected


def test_visible_gpus_follow_cuda_visible_devices():
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "3, 5"}) == ["3", "5"]
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert visible_gpus({"CUDA_VISIBLE_DEVICES": "-1"}) == []


def test_no_pool_for_one_job_cpu_runs_or_no_gpus():
    env = {"CUDA_VISIBLE_DEVICES": "0,1"}
    assert gpu_pool([], 1, env) is None
    assert gpu_pool(["--device", "cpu"], 2, env) is None
    assert gpu_pool([], 2, {"CUDA_VISIBLE_DEVICES": ""}) is None
    assert gpu_pool(["--gpus", "2", "--launcher", "pytorch"], 3, {"CUDA_VISIBLE_DEVICES": "0,1,2,3"}).concurrent_runs == 2


def test_a_run_needing_more_gpus_than_visible_is_refused():
    with pytest.raises(UsageError, match=r"each run needs 3 GPU\(s\) \(--gpus\) but only 2 are visible \(0, 1\)"):
        GpuPool(["0", "1"], 3)


def test_parallel_runs_never_share_a_gpu():
    pool = GpuPool(["0", "1", "2", "3", "4"], 2)
    held: list[set] = []
    lock = threading.Lock()
    most = []

    def run():
        gpus = pool.acquire()
        with lock:
            assert all(not (set(gpus) & other) for other in held)
            held.append(set(gpus))
            most.append(len(held))
        time.sleep(0.02)
        with lock:
            held.remove(set(gpus))
        pool.release(gpus)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert max(most) == 2 and sorted(pool.free) == ["0", "1", "2", "3", "4"]
