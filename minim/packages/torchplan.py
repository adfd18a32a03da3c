"""Keep torch, torchvision and torchaudio a released trio of one compute build.

Given what the user asked for, the installed environment and the compatibility data, decide:

* the compute variant (``--compute``; ``auto`` keeps the installed torch's build, or picks the
  newest CUDA build the driver runs, or ``cpu`` when no GPU is usable);
* the torch version the trio is built around;
* which torchvision/torchaudio release goes with it -- for a companion asked for without a
  version, and for an installed companion that would otherwise be left behind by a torch change;
* whether the variant needs PyTorch's own index (``download.pytorch.org/whl/<variant>``); then
  every torch-family pin carries the variant's local tag (``torch==2.5.1+cu121``) because pip
  picks among indexes by version alone.

A request that contradicts the data fails here, before pip runs, naming the versions that fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from minim.env.model import Environment
from minim.env.torch_build import TORCH_FAMILY
from minim.errors import PackageError, UsageError
from minim.packages.compat import COMPANIONS, CompatData, Variant, public, series_of
from minim.packages.specs import Requested, exact_version


@dataclass
class TorchDecision:
    """What the torch-family part of an install will be."""

    #: canonical name -> the requirement string pip gets (replacing the user's)
    pins: dict[str, str] = field(default_factory=dict)
    #: canonical name -> why minim chose that pin
    reasons: dict[str, str] = field(default_factory=dict)
    #: the variant chosen (None: leave it to the index)
    variant: Variant | None = None
    #: PyPI's own wheels are not that variant: PyTorch's index is needed
    needs_variant_index: bool = False
    torch_version: str | None = None
    notes: list[str] = field(default_factory=list)


def _fmt(versions: list[str], limit: int = 4) -> str:
    shown = versions[:limit]
    more = f" (+{len(versions) - limit} older)" if len(versions) > limit else ""
    return ", ".join(shown) + more if shown else "none known"


def _default_build(compat: CompatData, torch_version: str, system: str) -> str | None:
    """The variant plain PyPI serves for ``torch_version`` on ``system``."""
    if system in ("Windows", "Darwin"):
        return "cpu"
    return compat.pypi_build(torch_version)


def _cuda_key(variant: Variant) -> tuple[int, int]:
    major, _, minor = (variant.cuda or "0.0").partition(".")
    return int(major), int(minor or 0)


def auto_variant(env: Environment, compat: CompatData, torch_version: str | None) -> tuple[Variant | None, str]:
    """The variant ``--compute auto`` means for a fresh torch install, and why."""
    if env.system == "Darwin":
        return None, "macOS wheels on PyPI (CPU/MPS)"
    gpu = env.gpu
    if gpu.available and gpu.vendor == "nvidia":
        offered, _ = compat.variants_for(torch_version) if torch_version else ([], False)
        candidates = [compat.variants[n] for n in offered if n in compat.variants and compat.variants[n].kind == "cuda"]
        driver_cuda = _cuda_key(Variant("", "cuda", "", cuda=gpu.driver_cuda)) if gpu.driver_cuda else None
        usable = []
        for variant in candidates:
            if driver_cuda and _cuda_key(variant)[0] > driver_cuda[0]:
                continue  # a newer CUDA major than the driver knows
            minimum = compat.min_driver(variant.cuda or "", env.system)
            if minimum and gpu.driver and Version(gpu.driver) < Version(minimum):
                continue
            usable.append(variant)
        if usable:
            # the newest build the driver names; else (minor-version compatibility) the closest newer one
            within = [v for v in usable if driver_cuda is None or _cuda_key(v) <= driver_cuda]
            best = max(within, key=_cuda_key) if within else min(usable, key=_cuda_key)
            return best, f"newest CUDA build driver {gpu.driver} runs"
        if not candidates and torch_version:
            default = _default_build(compat, torch_version, env.system)
            return (compat.variants.get(default) if default else None), "PyPI's default build"
        return compat.variants.get("cpu"), f"no CUDA build of torch {torch_version} runs on driver {gpu.driver}"
    if gpu.available and gpu.vendor == "amd" and torch_version:
        offered, _ = compat.variants_for(torch_version)
        rocm = [compat.variants[n] for n in offered if compat.variants.get(n) and compat.variants[n].kind == "rocm"]
        if rocm:
            return rocm[-1], "newest ROCm build"
    return compat.variants.get("cpu"), "no usable GPU"


def _local_pin(name: str, version: str, variant: Variant | None, tagged: bool) -> str:
    base = public(version)
    text = str(base) if base is not None else version
    if tagged and variant is not None:
        return f"{name}=={text}+{variant.name}"
    return f"{name}=={text}"


def decide(requests: dict[str, Requested], env: Environment, compat: CompatData, compute: str,
           explicit_index: bool, upgrade: bool = False) -> TorchDecision:
    """Decide the torch-family pins for an install (see the module docstring)."""
    decision = TorchDecision()
    family = {name: requests[name] for name in TORCH_FAMILY if name in requests}
    installed_torch = env.get("torch")
    torch_build = env.torch_build("torch")
    python = env.python_version

    if compute != "auto":
        chosen = compat.variant(compute)
    else:
        chosen = None
    if not family:
        if chosen is not None:
            decision.notes.append("--compute only affects torch, torchvision and torchaudio; none is being installed")
        return decision

    torch_request = family.get("torch")
    torch_spec = torch_request.requirement.specifier if torch_request is not None else None

    # 1. the torch version the trio is built around
    torch_version = exact_version(torch_spec) if torch_spec is not None else None
    if torch_request is None and installed_torch is not None:
        torch_version = installed_torch.version
    if torch_version is None:
        torch_version = _torch_from_companions(family, compat, torch_spec, python)

    # 2. the compute variant
    keep_build = installed_torch is not None and torch_build is not None and torch_build.variant in compat.variants
    if chosen is None and not explicit_index:
        reason = ""
        if keep_build and (torch_version is None or _offers(compat, torch_version, torch_build.variant)):
            chosen = compat.variants[torch_build.variant]
            reason = f"the build of the installed torch {installed_torch.version}"
        elif torch_request is not None or installed_torch is None:
            provisional = torch_version or compat.newest_torch(torch_spec, python)
            chosen, reason = auto_variant(env, compat, provisional)
        # else: an installed torch of unknown build is left alone, and so is its companions' build
        if chosen is not None:
            decision.notes.append(f"compute variant {chosen.name}: {reason}")
    if torch_request is None and installed_torch is not None and chosen is not None and torch_build is not None \
            and torch_build.variant not in (None, chosen.name) and compute != "auto":
        raise PackageError(
            f"--compute {chosen.name} does not match the installed torch {installed_torch.version} "
            f"({torch_build.describe()}); torchvision/torchaudio must be the same build as torch",
            hint=f"install torch too: minim install torch {' '.join(n for n in family)} --compute {chosen.name}")
    if chosen is not None and env.system == "Darwin" and chosen.kind != "cpu":
        raise PackageError(f"--compute {chosen.name}: PyTorch publishes no {chosen.kind.upper()} wheels for macOS")
    decision.variant = chosen

    # 3. an unpinned torch: the installed one when it satisfies the request (pip would keep it too,
    #    unless --upgrade), else the newest release with the variant, the Python and a release of
    #    every companion that is installed or asked for
    companions = tuple(n for n in COMPANIONS if (n in family and exact_version(family[n].requirement.specifier)
                                                  is None) or env.get(n) is not None)
    if torch_version is None and torch_request is not None and installed_torch is not None and not upgrade \
            and torch_spec.contains(public(installed_torch.version), prereleases=True) \
            and (chosen is None or torch_build is None or torch_build.variant == chosen.name):
        torch_version = installed_torch.version
    if torch_version is None and torch_request is not None and (chosen is not None or len(family) > 1
                                                                 or companions):
        variant_name = chosen.name if chosen else None
        torch_version = (compat.newest_torch(torch_spec, python, variant_name, companions)
                         or compat.newest_torch(torch_spec, python, variant_name))
        if torch_version is None:
            raise PackageError(
                f"no torch release known to minim matches {torch_request.text!r} for Python {python}"
                + (f" with a {chosen.name} build" if chosen else ""),
                hint=f"known torch releases: {_fmt(compat.versions('torch'))}")
    decision.torch_version = torch_version

    if torch_version is not None and compat.knows_torch(torch_version):
        _check_torch(torch_version, torch_request, compat, python, chosen)

    # 4. does PyPI serve that build, or is PyTorch's index needed?
    tagged = False
    if chosen is not None and torch_version is not None:
        default = _default_build(compat, torch_version, env.system)
        tagged = default != chosen.name
    elif chosen is not None:
        tagged = chosen.name != "cpu" or env.system == "Linux"
    decision.needs_variant_index = chosen is not None and tagged

    # 5. pins: torch, requested companions, installed companions torch would leave behind
    if torch_request is not None and torch_version is not None and (tagged or torch_spec != SpecifierSet(f"=={torch_version}")):
        decision.pins["torch"] = _local_pin("torch", torch_version, chosen, tagged)
        decision.reasons["torch"] = "requested" + (f" ({chosen.name} build)" if tagged else "")
    elif torch_request is not None and tagged:
        decision.pins["torch"] = torch_request.text
    if torch_request is None and installed_torch is None and torch_version is not None and family:
        decision.pins["torch"] = _local_pin("torch", torch_version, chosen, tagged)
        decision.reasons["torch"] = f"{'/'.join(family)} needs torch {series_of(torch_version)}"

    torch_changes = torch_request is not None and (
        installed_torch is None or torch_version is None
        or public(installed_torch.version) != public(torch_version)
        or (torch_build is not None and chosen is not None and torch_build.variant != chosen.name))
    for name in COMPANIONS:
        request = family.get(name)
        if request is None and not (torch_changes and env.get(name) is not None):
            continue
        if torch_version is None or not compat.knows_torch(torch_version):
            if request is not None and chosen is not None and tagged:
                decision.notes.append(f"torch {torch_version or '?'} is not in packages.json: {name} is left to pip")
            continue
        version = _companion(name, request, torch_version, compat, python, installed=env.version(name))
        decision.pins[name] = _local_pin(name, version, chosen, tagged)
        decision.reasons[name] = (f"requested; pairs with torch {torch_version}" if request is not None
                                  else f"keeps {name} paired with torch {torch_version}")
    return decision


def _offers(compat: CompatData, torch_version: str, variant: str | None) -> bool:
    offered, complete = compat.variants_for(torch_version)
    return variant in offered or not complete


def _torch_from_companions(family: dict[str, Requested], compat: CompatData, torch_spec, python) -> str | None:
    """The torch a requested companion implies: ``torchvision==0.20.1`` -> 2.5.1; an unpinned
    ``torchvision`` -> the torch of the newest pair (pip alone would take the newest torch its
    loose ``torch>=X`` pin allows, which need not be the release it was built for)."""
    for name in COMPANIONS:
        request = family.get(name)
        if request is None:
            continue
        spec = request.requirement.specifier
        candidates = [v for v in compat.versions(name)
                      if spec.contains(Version(v), prereleases=False) and compat.supports_python(name, v, python)]
        exact = exact_version(spec)
        if exact is not None:
            if compat.release(name, exact) is None:
                continue
            candidates = [exact]
        for version in candidates:
            fitting = [t for t in compat.torch_for(name, version)
                       if (torch_spec is None or torch_spec.contains(Version(t), prereleases=True))
                       and compat.supports_python("torch", t, python)]
            if fitting:
                return fitting[0]
        if exact is not None:
            wanted = f" matching {torch_spec}" if torch_spec else ""
            raise PackageError(
                f"{name}=={exact} pairs with no torch release{wanted} for Python {python}",
                hint=f"{name} {exact} is built for torch {compat.release(name, exact).get('torch_series')}: "
                     f"{_fmt(compat.torch_for(name, exact))}")
    return None


def _check_torch(torch_version: str, request: Requested | None, compat: CompatData, python: str,
                 variant: Variant | None) -> None:
    if request is not None and compat.release("torch", torch_version) is None:
        known = [v for v in compat.versions("torch") if series_of(v) == series_of(torch_version)]
        if known and Version(known[0]) > public(torch_version):  # a gap, not a release newer than the data
            raise PackageError(f"torch {torch_version} was never released",
                               hint=f"torch {series_of(torch_version)} releases: {_fmt(known)}")
        return
    if request is not None and not compat.supports_python("torch", torch_version, python):
        fits = [v for v in compat.versions("torch") if compat.supports_python("torch", v, python)]
        raise PackageError(f"torch {torch_version} has no wheels for Python {python}",
                           hint=f"releases with Python {python} wheels: {_fmt(fits)}")
    if variant is not None:
        offered, complete = compat.variants_for(torch_version)
        if complete and variant.name not in offered:
            raise PackageError(f"torch {torch_version} has no {variant.name} build",
                               hint=f"builds of torch {series_of(torch_version)}: {', '.join(offered)}")


def _companion(name: str, request: Requested | None, torch_version: str, compat: CompatData, python: str,
               installed: str | None) -> str:
    """The release of ``name`` to install next to torch ``torch_version`` (or a PackageError)."""
    paired = compat.companions_for(name, torch_version, python)
    spec = request.requirement.specifier if request is not None else None
    exact = exact_version(spec) if spec is not None else None
    if exact is not None:
        verdict = compat.pairs(name, exact, torch_version)
        if verdict is False or (verdict is None and compat.release(name, exact) is None and compat.versions(name)):
            wanted = compat.torch_for(name, exact)
            builds = (f"{name} {exact} is built for torch {_fmt(wanted)}" if wanted
                      else f"{name} {exact} is not a known release")
            raise PackageError(
                f"{name}=={exact} does not pair with torch {torch_version}",
                hint=f"{builds}; for torch {torch_version} use {name} {_fmt(paired)}")
        return exact
    fitting = [v for v in paired if spec is None or spec.contains(Version(v), prereleases=True)]
    if not fitting:
        why = (f"no {name} release matching {request.text!r}" if request is not None
               else f"no {name} release")
        newest = compat.versions(name)[:1]
        built = (f"; the newest, {name} {newest[0]}, is built for torch "
                 f"{compat.release(name, newest[0]).get('torch_series')}") if newest else ""
        hint = (f"{name} releases for torch {torch_version}: {_fmt(paired)}" if paired and request is not None
                else f"uninstall {name} first (minim uninstall {name}) or choose another torch{built}")
        raise PackageError(f"{why} pairs with torch {torch_version} (Python {python})", hint=hint)
    if installed and installed in fitting and request is None:
        return installed
    return fitting[0]


def validate_compute(compute: str, compat: CompatData) -> None:
    """``auto`` or a variant packages.json knows; anything else is a UsageError with a did-you-mean."""
    if compute == "auto":
        return
    if not compute:
        raise UsageError("--compute needs a value: auto, cpu, cu121, ...")
    compat.variant(compute)
