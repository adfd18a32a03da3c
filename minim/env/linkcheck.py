"""Do a compiled torch extension's torch symbols resolve against the installed torch? Read from the files.

A torchvision built for another torch fails to load its operators with ``undefined symbol: _ZN3c10...``
(or, for the stable ABI, a missing ``aoti_torch_*`` function), and the user sees "operator
torchvision::nms does not exist" much later. The dynamic linker decides that from the ELF symbol
tables alone, so the same question is answered here without importing torch: every undefined
symbol of the extension that belongs to torch must be defined by one of torch's own libraries
(looked up through their GNU hash tables, as the linker does).

Only ELF (Linux) files can be checked this way (with pyelftools); :func:`missing_torch_symbols` returns None
for others.
"""

from __future__ import annotations

import re
from pathlib import Path

#: symbols torch's libraries provide: the stable C shim, and C++ names in torch's namespaces
#: (``_ZN3c10…``, ``_ZNK2at…``, vtables/typeinfo ``_ZTVN5torch…``)
TORCH_SYMBOL = re.compile(r"^(?:aoti_torch_|torch_|THP)|^_Z(?:T[VIS])?N[rVKRO]*(?:3c10|2at|5torch|6caffe2)")
EXTENSION_GLOBS = ("_C*.so", "_C*.pyd", "_C*.dylib")
ELF_MAGIC = b"\x7fELF"


def extension_files(package_dir: Path) -> list[Path]:
    """The compiled operator libraries of a torch extension package (``torchvision/_C*.so`` ...)."""
    return sorted({path for pattern in EXTENSION_GLOBS for path in package_dir.glob(pattern)})


def is_elf(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == ELF_MAGIC


def missing_torch_symbols(extension: Path, torch_lib: Path) -> list[str] | None:
    """Torch symbols ``extension`` needs that no library in ``torch_lib`` defines (sorted).

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
        wanted = _undefined_symbols(elf)
        needed = _needed_libraries(elf)
    wanted = {name for name in wanted if TORCH_SYMBOL.match(name)}
    for library in needed:
        path = torch_lib / library
        if not wanted or not path.is_file() or not is_elf(path):
            continue
        with open(path, "rb") as handle:
            wanted -= _defined_among(ELFFile(handle), wanted)
    return sorted(wanted)


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
