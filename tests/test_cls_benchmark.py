"""Speed measured here: ``minim run cls benchmark``, its cache, and ``minim search cls --bench``."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from cls_tools_support import tiny_shufflenet_config
from index_support import entry, write_index

FAST = ["--warmup", "1", "--min-runs", "2", "--min-seconds", "0"]


@pytest.fixture
def config(tmp_path):
    return tiny_shufflenet_config(tmp_path / "tiny_sn.py", tmp_path / "data")


def test_benchmark_json_is_sane_and_cached(run_cli, config, tmp_path):
    first = run_cli("run", "cls", "benchmark", str(config), "--batch-size", "1", "2", *FAST, "--json")
    assert first.exit_code == 0, first.err
    results = json.loads(first.out)
    assert [r["batch_size"] for r in results] == [1, 2]
    for result in results:
        assert result["model"] == str(config) and result["input_size"] == 32 and result["device"] == "cpu"
        assert result["device_name"] and result["torch_version"] and len(result["model_digest"]) == 16
        assert result["params_m"] == pytest.approx(0.345, abs=1e-3)
        assert 0 < result["latency_ms_median"] <= result["latency_ms_p90"]
        assert result["throughput"] == pytest.approx(result["batch_size"] / result["latency_ms_median"] * 1e3, rel=1e-2)
        assert result["runs"] >= 2 and result["amp"] is False and result["channels_last"] is False
        assert result["peak_memory_mb"] > 0 and result["memory_measure"] == "cpu weights + rss growth"
        assert result["cached"] is False
    assert len(list((Path(os.environ["MINIM_HOME"]) / "benchmarks").glob("*.json"))) == 2
    again = run_cli("run", "cls", "benchmark", str(config), "--batch-size", "1", "2", *FAST, "--json")
    assert again.exit_code == 0, again.err
    for before, after in zip(results, json.loads(again.out)):
        assert after.pop("cached") is True and before.pop("cached") is False
        assert after == before  # read back, not measured again (same timings, same measured_at)


def test_cache_key_holds_the_options(config):
    from minim.cls.analysis.benchmark import measure

    fast = dict(warmup=1, min_runs=1, min_seconds=0)
    nhwc = measure(str(config), 1, "cpu", channels_last=True, **fast)
    assert not nhwc.cached and nhwc.channels_last and nhwc.runs == 1
    assert measure(str(config), 1, "cpu", channels_last=True).cached
    assert not measure(str(config), 1, "cpu", **fast).cached  # another key: measured
    assert not measure(str(config), 1, "cpu", channels_last=True, use_cache=False, **fast).cached


def test_benchmark_table_and_bad_batch_size(run_cli, config):
    table = run_cli("run", "cls", "benchmark", str(config), *FAST)
    assert table.exit_code == 0, table.err
    assert "median ms" in table.out and "p90 ms" in table.out and "img/s" in table.out and "peak MB" in table.out
    bad = run_cli("run", "cls", "benchmark", str(config), "--batch-size", "0")
    assert bad.exit_code == 2 and "--batch-size must be >= 1" in bad.err


def test_search_bench_adds_measured_columns(run_cli, tmp_path, monkeypatch):
    index = write_index(tmp_path / "zoo", [entry("tinynet-a"), entry("tinynet-b", config=None)], configs=False)
    (tmp_path / "zoo" / "configs").mkdir()
    tiny_shufflenet_config(tmp_path / "zoo" / "configs" / "tinynet-a.py", tmp_path / "data")
    monkeypatch.setenv("MINIM_INDEX_PATH", str(index))
    result = run_cli("search", "cls", "--model", "tinynet*", "--bench", "--json")
    assert result.exit_code == 0, result.err
    by_name = {e["name"]: e for e in json.loads(result.out)}
    bench = by_name["tinynet-a"]["bench"]
    assert set(bench) == {"median ms", "p90 ms", "img/s", "peak MB"}
    assert 0 < bench["median ms"] <= bench["p90 ms"] and bench["img/s"] > 0
    assert "bench" not in by_name["tinynet-b"]  # weights-only entry: nothing to build
    table = run_cli("search", "cls", "--model", "tinynet*", "--bench")
    assert table.exit_code == 0 and "median ms" in table.out
    row = next(line for line in table.out.splitlines() if "tinynet-a" in line)
    assert f"{bench['median ms']:.3f}".rstrip("0").rstrip(".") in row  # from the cache: the same number
