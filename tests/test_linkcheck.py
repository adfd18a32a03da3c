"""The static torchvision operator check: torch symbols an extension needs, looked up in torch's libraries."""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from minim.env.linkcheck import TORCH_SYMBOL, LinkProblems, extension_files, link_problems
from pkg_support import build_shared_library

PRESENT = "_ZN3c1011present_fnEv"
GONE = "_ZNK2at6Tensor11gone_in_newEv"


@pytest.mark.parametrize("name, torch_owned", [
    ("_ZN3c1019UndefinedTensorImpl10_singletonE", True),
    ("_ZNK2at10TensorBase4sizeEl", True),
    ("_ZTVN5torch8autograd4NodeE", True),
    ("aoti_torch_dtype_float32", True),
    ("_ZNSo3putEc", False),
    ("memcpy", False),
    ("_ZN4absl7Mutex4LockEv", False),
])
def test_which_symbols_belong_to_torch(name, torch_owned):
    assert bool(TORCH_SYMBOL.match(name)) is torch_owned


def test_missing_torch_symbols_are_found_and_others_ignored(tmp_path):
    lib = tmp_path / "torch" / "lib"
    build_shared_library(lib, "libc10.so", defines=[PRESENT, "aoti_torch_abi_version"])
    build_shared_library(tmp_path / "vision", "_C.so", uses=[PRESENT, GONE, "aoti_torch_abi_version", "strlen",
                                                             "_ZN5other3fooEv"], link=[lib / "libc10.so"])
    problems = link_problems(tmp_path / "vision" / "_C.so", lib)
    assert problems == LinkProblems([], [GONE]) and problems.describe() == f"undefined symbol: {GONE}"


def test_a_matching_build_has_nothing_missing(tmp_path):
    lib = tmp_path / "torch" / "lib"
    build_shared_library(lib, "libc10.so", defines=[PRESENT, GONE])
    build_shared_library(tmp_path / "vision", "_C.so", uses=[PRESENT, GONE], link=[lib / "libc10.so"])
    problems = link_problems(tmp_path / "vision" / "_C.so", lib)
    assert not problems and problems == LinkProblems()


def test_a_torch_library_that_is_gone_is_named_with_its_symbols(tmp_path):
    """A CUDA torchvision next to a CPU torch: libtorch_cuda.so is not there."""
    lib = tmp_path / "torch" / "lib"
    build_shared_library(lib, "libc10.so", defines=[PRESENT])
    build_shared_library(lib, "libtorch_cuda.so", defines=[GONE])
    build_shared_library(tmp_path / "vision", "_C.so", uses=[PRESENT, GONE],
                         link=[lib / "libc10.so", lib / "libtorch_cuda.so"])
    (lib / "libtorch_cuda.so").unlink()
    problems = link_problems(tmp_path / "vision" / "_C.so", lib)
    assert problems == LinkProblems(["libtorch_cuda.so"], [GONE])
    assert problems.describe() == ("libtorch_cuda.so: cannot open shared object file (torch has no such library) "
                                   "(and 1 more)")


def test_non_elf_files_are_left_to_the_interpreter(tmp_path):
    fake = tmp_path / "_C.pyd"
    fake.write_bytes(b"MZ\x90\x00" + bytes(60))
    assert extension_files(tmp_path) == [fake]
    assert link_problems(fake, tmp_path) is None


def test_the_installed_torchvision_links_against_the_installed_torch():
    site = Path(sysconfig.get_paths()["purelib"])
    extensions = extension_files(site / "torchvision")
    assert extensions, "torchvision ships a compiled operator library"
    for extension in extensions:
        assert link_problems(extension, site / "torch" / "lib") == LinkProblems()
