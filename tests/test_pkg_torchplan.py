"""The torch-family decisions of an install, on described environments (GPU machines included)."""

from __future__ import annotations

import pytest

from minim.env.gpu import GpuInfo
from minim.env.model import Dist, Environment
from minim.errors import PackageError, UsageError
from minim.packages.compat import load_compat
from minim.packages.specs import parse_request
from minim.packages.torchplan import auto_variant, decide

NO_GPU = GpuInfo(False, source="nvidia-smi not found")
H100 = GpuInfo(True, "nvidia", driver="550.54.15", driver_cuda="12.4", names=["NVIDIA H100"], source="nvidia-smi")
OLD_DRIVER = GpuInfo(True, "nvidia", driver="470.82.01", driver_cuda="11.4", names=["T4"], source="nvidia-smi")


def environment(*dists: tuple[str, str], gpu: GpuInfo = NO_GPU, system: str = "Linux",
                python: str = "3.11.7", version_py: dict | None = None) -> Environment:
    records = {}
    for name, version in dists:
        records[name] = Dist(name=name, version=version, version_py=(version_py or {}).get(name))
    return Environment(python="/venv/bin/python", python_version=python, implementation="CPython",
                       platform="linux-x86_64", system=system, machine="x86_64", prefix="/venv", in_venv=True,
                       pip_version="26.3", markers={}, dists=records, gpu=gpu)


def requests(*texts: str) -> dict:
    parsed = [parse_request(t) for t in texts]
    return {r.key: r for r in parsed}


@pytest.fixture(scope="module")
def compat():
    return load_compat()


def test_torchvision_alone_pairs_with_installed_torch_and_keeps_its_build(compat):
    env = environment(("torch", "2.5.1+cu121"))
    decision = decide(requests("torchvision"), env, compat, "auto", explicit_index=False)
    assert decision.pins == {"torchvision": "torchvision==0.20.1+cu121"}
    assert decision.needs_variant_index and decision.variant.name == "cu121"
    assert "build of the installed torch" in decision.notes[0]


def test_pypi_default_build_needs_no_variant_index(compat):
    env = environment(("torch", "2.5.1"), version_py={"torch": "cuda = '12.4'\n"})
    decision = decide(requests("torchvision"), env, compat, "auto", explicit_index=False)
    assert decision.pins == {"torchvision": "torchvision>=0.20.1,<0.21"} and not decision.needs_variant_index
    assert decision.holds == {"torch": "torch==2.5.1"}  # pip must not move the installed torch


def test_changing_torch_moves_installed_companions(compat):
    env = environment(("torch", "2.4.1+cpu"), ("torchvision", "0.19.1+cpu"), ("torchaudio", "2.4.1+cpu"))
    decision = decide(requests("torch==2.5.1"), env, compat, "auto", explicit_index=False)
    assert decision.pins == {"torch": "torch==2.5.1+cpu", "torchvision": "torchvision==0.20.1+cpu",
                             "torchaudio": "torchaudio==2.5.1+cpu"}
    assert "keeps torchvision paired" in decision.reasons["torchvision"]


def test_compute_picks_the_index_and_the_companions_follow(compat):
    env = environment(("torch", "2.5.1+cpu"), ("torchvision", "0.20.1+cpu"))
    decision = decide(requests("torch==2.5.1"), env, compat, "cu121", explicit_index=False)
    assert decision.variant.url == "https://download.pytorch.org/whl/cu121"
    assert decision.pins == {"torch": "torch==2.5.1+cu121", "torchvision": "torchvision==0.20.1+cu121"}


def test_auto_on_a_gpu_machine_takes_the_newest_cuda_the_driver_runs(compat):
    env = environment(gpu=H100)
    decision = decide(requests("torch==2.5.1"), env, compat, "auto", explicit_index=False)
    assert decision.variant.name == "cu124" and not decision.needs_variant_index  # PyPI's 2.5.1 is cu124
    variant, _ = auto_variant(environment(gpu=H100), compat, "2.8.0")
    assert variant.name == "cu126"  # none <= 12.4: the closest newer 12.x (minor-version compatibility)
    assert auto_variant(environment(gpu=H100), compat, "2.5.1")[0].name == "cu124"
    old, _ = auto_variant(environment(gpu=OLD_DRIVER), compat, "2.5.1")
    assert old.name == "cu118"
    none, reason = auto_variant(environment(gpu=OLD_DRIVER), compat, "2.9.1")
    assert none.name == "cpu" and "no CUDA build" in reason


def test_unpinned_torch_on_a_gpu_machine(compat):
    decision = decide(requests("torch<2.6"), environment(gpu=H100), compat, "auto", explicit_index=False)
    assert decision.pins["torch"] == "torch==2.5.1" and decision.variant.name == "cu124"


def test_auto_without_gpu_is_cpu_and_unpinned_gets_the_newest_release_with_that_build(compat):
    decision = decide(requests("torch"), environment(), compat, "auto", explicit_index=False)
    newest = compat.versions("torch")[0]
    assert decision.pins["torch"] == f"torch=={newest}+cpu" and decision.needs_variant_index


def test_explicit_index_leaves_the_build_alone(compat):
    decision = decide(requests("torch==2.5.1"), environment(gpu=H100), compat, "auto", explicit_index=True)
    assert decision.variant is None and decision.pins == {}


def test_unpinned_companion_without_torch_pins_the_newest_pair(compat):
    decision = decide(requests("torchvision<0.21"), environment(), compat, "auto", explicit_index=True)
    assert decision.pins == {"torch": "torch==2.5.1", "torchvision": "torchvision>=0.20.1,<0.21"}


def test_contradictions(compat):
    env = environment(("torch", "2.10.0"))
    with pytest.raises(PackageError) as info:
        decide(requests("torchvision==0.29.1"), env, compat, "auto", explicit_index=True)
    assert "torchvision==0.29.1 does not pair with torch 2.10.0" in str(info.value)
    assert "use torchvision 0.25.0" in str(info.value)
    with pytest.raises(PackageError, match="torchvision==0.29.1 does not pair with torch 2.10"):
        decide(requests("torchvision==0.29.1", "torch==2.10"), environment(), compat, "auto", explicit_index=True)
    with pytest.raises(PackageError, match="torchvision==0.29.1 pairs with no torch release matching <2.14"):
        decide(requests("torchvision==0.29.1", "torch<2.14"), environment(), compat, "auto", explicit_index=True)
    with pytest.raises(PackageError, match="torch 2.5.1 has no cu130 build"):
        decide(requests("torch==2.5.1"), environment(), compat, "cu130", explicit_index=False)
    with pytest.raises(PackageError, match="torch 2.5.1 has no wheels for Python 3.14"):
        decide(requests("torch==2.5.1"), environment(python="3.14.0"), compat, "auto", explicit_index=True)
    with pytest.raises(PackageError, match="torch 2.1.1.1 was never released"):
        decide(requests("torch==2.1.1.1"), environment(), compat, "auto", explicit_index=True)
    # a patch newer than packages.json knows is left to pip (the data may be older than the release)
    assert decide(requests("torch==2.5.9"), environment(), compat, "auto", explicit_index=True).pins == {}
    with pytest.raises(PackageError, match="no torchaudio release pairs with torch 2.14.1"):
        decide(requests("torch==2.14.1"), environment(("torch", "2.11.0"), ("torchaudio", "2.11.0")), compat,
               "auto", explicit_index=True)


def test_compute_that_does_not_match_installed_torch(compat):
    env = environment(("torch", "2.5.1+cu121"))
    with pytest.raises(PackageError, match="does not match the installed torch 2.5.1"):
        decide(requests("torchvision"), env, compat, "cpu", explicit_index=False)


def test_no_cuda_on_macos_and_unknown_variant(compat):
    with pytest.raises(PackageError, match="no CUDA wheels for macOS"):
        decide(requests("torch==2.5.1"), environment(system="Darwin"), compat, "cu121", explicit_index=False)
    with pytest.raises(UsageError, match="unknown compute variant"):
        decide(requests("torch"), environment(), compat, "cu999", explicit_index=False)


def test_compute_without_torch_family_is_only_a_note(compat):
    decision = decide(requests("numpy"), environment(), compat, "cu121", explicit_index=False)
    assert decision.pins == {} and "--compute only affects" in decision.notes[0]


def test_unpinned_torch_keeps_the_installed_one_unless_upgrading(compat):
    env = environment(("torch", "2.11.0+cu130"), ("torchvision", "0.26.0+cu130"), ("torchaudio", "2.11.0+cu130"))
    kept = decide(requests("torch"), env, compat, "auto", explicit_index=False)
    assert kept.torch_version == "2.11.0+cu130" and "torchvision" not in kept.pins
    # upgrading: the newest torch that torchvision and torchaudio both have a release for
    upgraded = decide(requests("torch"), environment(("torch", "2.9.1"), ("torchvision", "0.24.1"),
                                                     ("torchaudio", "2.9.1")), compat, "auto",
                      explicit_index=True, upgrade=True)
    assert upgraded.pins == {"torch": "torch==2.11.0", "torchvision": "torchvision>=0.26.0,<0.27",
                             "torchaudio": "torchaudio>=2.11.0,<2.12"}


def test_explicit_local_tag_wins_over_auto_and_contradicting_compute_is_a_usage_error(compat):
    decision = decide(requests("torch==2.5.1+cu121", "torchvision"), environment(), compat, "auto",
                      explicit_index=False)
    assert decision.variant.name == "cu121" and decision.needs_variant_index
    assert decision.pins == {"torch": "torch==2.5.1+cu121", "torchvision": "torchvision==0.20.1+cu121"}
    with pytest.raises(UsageError, match=r"--compute cpu contradicts torch==2.5.1\+cu121 \(a cu121 build\)"):
        decide(requests("torch==2.5.1+cu121"), environment(), compat, "cpu", explicit_index=False)


def test_companion_alone_holds_the_installed_torch_unless_no_deps(compat):
    env = environment(("torch", "2.14.1"), version_py={"torch": "cuda = '13.0'\n"})
    decision = decide(requests("torchvision==0.29.2"), env, compat, "auto", explicit_index=True)
    assert decision.holds == {"torch": "torch==2.14.1"}
    assert decide(requests("torchvision"), env, compat, "auto", explicit_index=True, no_deps=True).holds == {}


def test_companion_without_a_release_for_the_installed_torch_does_not_say_uninstall(compat):
    with pytest.raises(PackageError) as info:
        decide(requests("torchaudio"), environment(("torch", "2.14.1")), compat, "auto", explicit_index=True)
    assert "pairs with torch 2.14.1" in str(info.value) and "install a torch that torchaudio has" in str(info.value)
    assert "uninstall torchaudio" not in str(info.value)


def test_pairing_specifier_spans_the_releases_that_pair(compat):
    assert compat.pairing_specifier("torchvision", "2.14.1") == ">=0.29.1,<0.30"  # 0.29.0 pins torch==2.14.0
    assert compat.pairing_specifier("torchvision", "2.14.0") == ">=0.29.0,<0.30"
