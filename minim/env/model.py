"""What an environment probe found: the interpreter, its distributions, torch builds and GPUs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from packaging.utils import canonicalize_name

from minim.env.gpu import GpuInfo
from minim.env.torch_build import TORCH_FAMILY, TorchBuild, detect_build


@dataclass(frozen=True)
class Dist:
    """One installed distribution of the target environment."""

    name: str
    version: str
    requires: list[str] = field(default_factory=list)
    top_level: list[str] = field(default_factory=list)
    location: str | None = None
    dist_info: str | None = None
    installed_at: float | None = None
    installer: str | None = None
    requested: bool = False
    editable: bool = False
    #: the URL of a direct-URL or local-path install (direct_url.json), else None
    direct_url: str | None = None
    summary: str | None = None
    #: text of ``<pkg>/version.py`` for torch-family distributions
    version_py: str | None = None
    #: for torch-family distributions: whether the import package itself is there (not metadata only)
    has_package: bool | None = None
    #: with a files probe: how many files its RECORD lists are not on disk, and one of them
    missing_files: int = 0
    missing_sample: str | None = None

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)

    @classmethod
    def from_probe(cls, record: dict) -> "Dist":
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in record.items() if k in known})


@dataclass(frozen=True)
class SharedFiles:
    """Files that several distributions ship with different contents under one import package."""

    package: str
    distributions: list[str]
    sample_file: str
    differing_files: int
    #: the distribution whose copy of ``sample_file`` is on disk now (None when none matches)
    on_disk: str | None
    #: where ``import package`` resolves to
    origin: str | None


@dataclass(frozen=True)
class BrokenMetadata:
    """A ``*.dist-info`` folder whose metadata cannot be read (pip itself crashes on it)."""

    path: str | None
    problem: str
    #: the project name its folder name suggests
    name: str | None = None


@dataclass
class Environment:
    """A snapshot of a Python environment (the target of install/uninstall/doctor)."""

    python: str
    python_version: str
    implementation: str
    platform: str
    system: str
    machine: str
    prefix: str
    in_venv: bool
    pip_version: str | None
    markers: dict
    dists: dict[str, Dist]
    gpu: GpuInfo
    has_display: bool = False
    shared_files: list[SharedFiles] | None = None
    broken_metadata: list[BrokenMetadata] = field(default_factory=list)

    def get(self, name: str) -> Dist | None:
        """The installed distribution called ``name`` (any spelling), or None."""
        return self.dists.get(canonicalize_name(name))

    def version(self, name: str) -> str | None:
        dist = self.get(name)
        return dist.version if dist else None

    def torch_build(self, name: str = "torch") -> TorchBuild | None:
        """The compute build of an installed torch-family package, or None when it is not installed."""
        dist = self.get(name)
        if dist is None:
            return None
        return detect_build(dist.version, dist.requires, dist.version_py, self.system)

    def torch_packages(self) -> dict[str, tuple[str, TorchBuild]]:
        """``{name: (version, build)}`` for the installed torch, torchvision and torchaudio."""
        found = {}
        for name in TORCH_FAMILY:
            dist = self.get(name)
            if dist is not None:
                found[name] = (dist.version, self.torch_build(name))
        return found

    def to_dict(self) -> dict:
        data = {
            "python": self.python,
            "python_version": self.python_version,
            "implementation": self.implementation,
            "platform": self.platform,
            "in_venv": self.in_venv,
            "pip": self.pip_version,
            "torch": {name: {"version": version, "build": build.to_dict()}
                      for name, (version, build) in self.torch_packages().items()},
            "gpu": self.gpu.to_dict(),
            "distributions": len(self.dists),
        }
        if self.shared_files is not None:
            data["shared_files"] = [asdict(s) for s in self.shared_files]
        return data
