"""Do a compiled torch extension's torch symbols resolve against the installed torch? Read from the files.

A torchvision built for another torch fails to load its operators with ``undefined symbol: _ZN3c10...``
(or, for the stable ABI, a missing ``aoti_torch_*`` function), and the user sees "operator
torchvision::nms does not exist" much later. The dynamic linker decides that from the ELF symbol
tables alone, so the same question is answered here without importing torch: every undefined
symbol of the extension that belongs to torch must be defined by one of torch's own libraries
(looked up through their GNU hash tables, as the linker does).

Only ELF (Linux) files can be checked this way (with pyelftools); :func:`link_problems` returns None for
others.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

#: symbols torch's libraries provide: the stable C shim, and C++ names in torch's namespaces
#: (``_ZN3c10…``, ``_ZNK2at…``, vtables/typeinfo ``_ZTVN5torch…``)
TORCH_SYMBOL = re.compile(r"^(?:aoti_torch_|torch_|THP)|^_Z(?:T[VIS])?N[rVKRO]*(?:3c10|2at|5torch|6caffe2)")
#: torch's own shared libraries (their absence from torch/lib is itself a problem)
TORCH_LIBRARY = re.compile(r"^lib(?:torch|c10|shm)[\w.-]*\.so")
#: torchvision's operator library (``_C.so``; ``_C_stable.so`` since 0.29)
TORCHVISION_EXTENSIONS = ("_C*.so", "_C*.pyd", "_C*.dylib")
#: mmcv's (mmcv-full 1.x, full mmcv 2.x builds) operator library
MMCV_EXTENSIONS = ("_ext*.so", "_ext*.pyd")
ELF_MAGIC = b"\x7fELF"


def extension_files(package_dir: Path, patterns=TORCHVISION_EXTENSIONS) -> list[Path]:
    """The compiled operator libraries of a torch extension package (``torchvision/_C*.so`` ...)."""
    return sorted({path for pattern in patterns for path in package_dir.glob(pattern)})


def is_elf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == ELF_MAGIC


@dataclass(frozen=True)
class LinkProblems:
    """What would stop the dynamic linker from loading an extension against an installed torch."""

    #: torch libraries (``libc10.so``, ``libtorch_cuda.so``, ...) the extension needs that torch lacks
    libraries: list[str] = field(default_factory=list)
    #: torch symbols the extension needs that none of torch's libraries defines
    symbols: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.libraries or self.symbols)

    def describe(self) -> str:
        """The first problem as the loader would word it, and how many more there are."""
        if self.libraries:
            first = f"{self.libraries[0]}: cannot open shared object file (torch has no such library)"
        else:
            first = f"undefined symbol: {self.symbols[0]}"
        more = len(self.libraries) + len(self.symbols) - 1
        return first + (f" (and {more} more)" if more else "")


def link_problems(extension: Path, torch_lib: Path) -> LinkProblems | None:
    """Why ``extension`` would fail to load against the libraries in ``torch_lib`` (empty when it loads).

    None when the files are not ELF (the caller must ask an interpreter instead).
    """
    try:
        from elftools.elf.elffile import ELFFile
    except ImportError:  # pyelftools is a dependency on Linux only
        return None
    if not is_elf(extension):
        return None
    with open(extension, "rb") as handle:
        elf = ELFFile(handle)
        wanted = {name for name in _undefined_symbols(elf) if TORCH_SYMBOL.match(name)}
        needed = _needed_libraries(elf)
    absent = []
    for library in needed:
        path = torch_lib / library
        if not path.is_file():
            if TORCH_LIBRARY.match(library):
                absent.append(library)
            continue
        if wanted and is_elf(path):
            with open(path, "rb") as handle:
                wanted -= _defined_among(ELFFile(handle), wanted)
    return LinkProblems(absent, sorted(wanted))


def _undefined_symbols(elf) -> set[str]:
    table = elf.get_section_by_name(".dynsym")
    if table is None:
        return set()
    return {symbol.name for symbol in table.iter_symbols()
            if symbol.name and symbol["st_shndx"] == "SHN_UNDEF" and symbol["st_info"]["bind"] != "STB_WEAK"}


def _needed_libraries(elf) -> list[str]:
    dynamic = elf.get_section_by_name(".dynamic")
    if dynamic is None:
        return []
    return [tag.needed for tag in dynamic.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def _defined_among(elf, names: set[str]) -> set[str]:
    """Which of ``names`` the library defines (hash-table lookups; a full scan when it has none)."""
    table = elf.get_section_by_name(".gnu.hash") or elf.get_section_by_name(".hash")
    if table is not None:
        found = set()
        for name in names:
            symbol = table.get_symbol(name)
            if symbol is not None and symbol["st_shndx"] != "SHN_UNDEF":
                found.add(name)
        return found
    dynsym = elf.get_section_by_name(".dynsym")
    if dynsym is None:
        return set()
    return {s.name for s in dynsym.iter_symbols() if s.name in names and s["st_shndx"] != "SHN_UNDEF"}
