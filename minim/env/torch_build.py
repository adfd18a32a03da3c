"""Which build of torch (CPU, CUDA x.y, ROCm x.y, XPU) a distribution is, read without importing it.

Three sources, most reliable first:

1. ``torch/version.py`` of the installed package, read as text (``cuda = '12.1'``,
   ``hip = '6.1.40091-...'``, ``xpu = ...``): torch writes it at build time.
2. The local version tag: ``2.5.1+cu121``, ``2.5.1+cpu``, ``2.5.1+rocm6.1``, ``2.5.1+xpu``.
3. The wheel's requirements: PyPI's Linux wheels depend on ``nvidia-cuda-runtime-cu12==12.4.127``
   or ``cuda-toolkit[...]==13.0.3`` instead of carrying a ``+cuXYZ`` tag.
"""

from __future__ import annotations

import ast
import re
from dataclasses import asdict, dataclass
from typing import Iterable

#: the packages whose builds follow torch's compute variant
TORCH_FAMILY = ("torch", "torchvision", "torchaudio")

_LOCAL_TAG = re.compile(r"^(cpu|xpu|cu\d{2,3}|rocm\d+(?:\.\d+)*)$")
_CUDA_REQUIREMENT = re.compile(
    r"^\s*(?:nvidia-cuda-runtime(?:-cu\d+)?|cuda-toolkit)\s*(?:\[[^\]]*\])?\s*==\s*(\d+)\.(\d+)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class TorchBuild:
    """The compute build of a torch-family distribution."""

    #: 'cpu', 'cuda', 'rocm', 'xpu' or 'unknown'
    kind: str
    #: the wheel-index variant name: 'cpu', 'cu121', 'rocm6.1', 'xpu', or None when unknown
    variant: str | None = None
    #: CUDA version the build targets ('12.1'), for kind 'cuda'
    cuda: str | None = None
    #: ROCm/HIP version ('6.1'), for kind 'rocm'
    rocm: str | None = None
    #: where the answer came from: 'version.py', 'local version tag', 'requirements', 'platform'
    source: str = "unknown"

    def describe(self) -> str:
        """A short human label: 'CUDA 12.1', 'CPU', 'ROCm 6.1', 'XPU' or 'unknown build'."""
        if self.kind == "cuda":
            return f"CUDA {self.cuda}" if self.cuda else "CUDA"
        if self.kind == "rocm":
            return f"ROCm {self.rocm}" if self.rocm else "ROCm"
        return {"cpu": "CPU", "xpu": "XPU"}.get(self.kind, "unknown build")

    def to_dict(self) -> dict:
        return asdict(self)


def cuda_variant(cuda_version: str) -> str:
    """``'12.1'`` -> ``'cu121'``."""
    major, _, minor = cuda_version.partition(".")
    return f"cu{major}{(minor or '0').split('.')[0]}"


def variant_from_local_tag(version: str) -> str | None:
    """The variant named by a version's local tag (``2.5.1+cu121`` -> ``cu121``), or None."""
    _, plus, local = version.partition("+")
    if not plus:
        return None
    local = local.lower()
    return local if _LOCAL_TAG.match(local) else None


def cuda_from_requirements(requirements: Iterable[str]) -> str | None:
    """The CUDA version pinned by nvidia runtime/toolkit requirements (``'12.4'``), or None."""
    for requirement in requirements:
        match = _CUDA_REQUIREMENT.match(requirement.replace("(", "").replace(")", ""))
        if match:
            return f"{match.group(1)}.{match.group(2)}"
    return None


def read_version_py(text: str) -> dict:
    """The literal assignments of a ``torch/version.py`` (``{'cuda': '12.1', 'hip': None, ...}``)."""
    values: dict = {}
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return values
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            targets, value = [node.target], node.value
        elif isinstance(node, ast.Assign):
            targets, value = [t for t in node.targets if isinstance(t, ast.Name)], node.value
        else:
            continue
        try:
            literal = ast.literal_eval(value)
        except ValueError:
            continue
        for target in targets:
            values[target.id] = literal
    return values


def _major_minor(version: str) -> str:
    return ".".join(re.findall(r"\d+", version)[:2])


def _from_variant(variant: str, source: str) -> TorchBuild:
    if variant == "cpu":
        return TorchBuild("cpu", "cpu", source=source)
    if variant == "xpu":
        return TorchBuild("xpu", "xpu", source=source)
    if variant.startswith("cu"):
        digits = variant[2:]
        return TorchBuild("cuda", variant, cuda=f"{digits[:-1]}.{digits[-1]}", source=source)
    return TorchBuild("rocm", variant, rocm=_major_minor(variant[4:]), source=source)


def detect_build(
    version: str,
    requirements: Iterable[str] = (),
    version_py: str | None = None,
    system: str = "",
) -> TorchBuild:
    """The build of a torch-family distribution from what its metadata and files say.

    ``version_py`` is the text of ``torch/version.py`` when available; ``system`` is
    ``platform.system()`` of the target (macOS wheels are always CPU/MPS builds).
    """
    tag = variant_from_local_tag(version)
    if version_py is not None:
        values = read_version_py(version_py)
        if values.get("cuda"):
            cuda = _major_minor(str(values["cuda"]))
            return TorchBuild("cuda", tag if tag and tag.startswith("cu") else cuda_variant(cuda), cuda=cuda,
                              source="version.py")
        if values.get("hip"):
            rocm = _major_minor(str(values["hip"]))
            return TorchBuild("rocm", tag if tag and tag.startswith("rocm") else f"rocm{rocm}", rocm=rocm,
                              source="version.py")
        if values.get("xpu"):
            return TorchBuild("xpu", "xpu", source="version.py")
        if "cuda" in values or "hip" in values:
            return TorchBuild("cpu", "cpu", source="version.py")
        built_as = variant_from_local_tag(str(values.get("__version__") or ""))
        if built_as:  # torchvision/torchaudio write their full version, local tag included
            return _from_variant(built_as, "version.py")
    if tag:
        return _from_variant(tag, "local version tag")
    cuda = cuda_from_requirements(requirements)
    if cuda:
        return TorchBuild("cuda", cuda_variant(cuda), cuda=cuda, source="requirements")
    if system == "Darwin":
        return TorchBuild("cpu", "cpu", source="platform")
    return TorchBuild("unknown", source="unknown")
