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
from minim.packages.compat import COMPANIONS, CompatData, Variant, parse_version, public, series_of
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
    #: canonical name -> ``name==<installed version>``: extra requirements that only keep an installed
    #: package where it is (pip re-resolves ``torch>=X`` under --force-reinstall and would upgrade it)
    holds: dict[str, str] = field(default_factory=dict)


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


@dataclass
class _Context:
    """What every step of :func:`decide` looks at."""

    family: dict[str, Requested]
    env: Environment
    compat: CompatData
    python: str
    upgrade: bool = False
    no_deps: bool = False

    @property
    def torch_request(self) -> Requested | None:
        return self.family.get("torch")

    @property
    def torch_spec(self) -> SpecifierSet | None:
        request = self.torch_request
        return request.requirement.specifier if request is not None else None


def decide(requests: dict[str, Requested], env: Environment, compat: CompatData, compute: str,
           explicit_index: bool, upgrade: bool = False, no_deps: bool = False) -> TorchDecision:
    """Decide the torch-family pins for an install (see the module docstring)."""
    decision = TorchDecision()
    explicit = compat.variant(compute) if compute != "auto" else None
    family = {name: requests[name] for name in TORCH_FAMILY if name in requests}
    if not family:
        if explicit is not None:
            decision.notes.append("--compute only affects torch, torchvision and torchaudio; none is being installed")
        return decision
    ctx = _Context(family, env, compat, env.python_version, upgrade, no_deps)

    torch_version = _initial_torch_version(ctx)
    chosen = _tagged_variant(family, compat, explicit) or explicit
    if chosen is None and not explicit_index:
        chosen, reason = _auto_variant_for(ctx, torch_version)
        if chosen is not None:
            decision.notes.append(f"compute variant {chosen.name}: {reason}")
    _check_variant(ctx, chosen, explicit is not None or chosen is not None and chosen is not explicit)
    decision.variant = chosen

    if torch_version is None:
        torch_version = _unpinned_torch_version(ctx, chosen, upgrade)
    decision.torch_version = torch_version
    if torch_version is not None and compat.knows_torch(torch_version):
        _check_torch(torch_version, ctx.torch_request, compat, ctx.python, chosen)

    tagged = _needs_local_tag(ctx, chosen, torch_version)
    decision.needs_variant_index = chosen is not None and tagged
    _pin_torch(ctx, decision, torch_version, chosen, tagged)
    _pin_companions(ctx, decision, torch_version, chosen, tagged)
    return decision


def _tagged_variant(family: dict[str, Requested], compat: CompatData, explicit: Variant | None) -> Variant | None:
    """The build an explicit local tag names (``torch==2.5.1+cu121`` -> cu121): it wins over ``auto``;
    a ``--compute`` that contradicts it is a UsageError naming both."""
    found: tuple[Variant, str] | None = None
    for request in family.values():
        exact = exact_version(request.requirement.specifier)
        local = parse_version(exact).local if exact and parse_version(exact) else None
        if local not in compat.variants:
            continue
        variant = compat.variants[local]
        if found is not None and found[0].name != variant.name:
            raise UsageError(f"{found[1]} and {request.text} are different builds ({found[0].name}, {variant.name})",
                             hint="torch, torchvision and torchaudio must be the same build")
        found = (variant, request.text)
    if found is not None and explicit is not None and explicit.name != found[0].name:
        raise UsageError(f"--compute {explicit.name} contradicts {found[1]} (a {found[0].name} build)",
                         hint=f"drop --compute, or drop the +{found[0].name} tag")
    return found[0] if found else None


def _initial_torch_version(ctx: _Context) -> str | None:
    """The torch version fixed by the request: an exact pin, the installed torch, or an exact companion."""
    spec = ctx.torch_spec
    if spec is not None:
        exact = exact_version(spec)
        if exact is not None:
            return exact
    installed = ctx.env.get("torch")
    if ctx.torch_request is None and installed is not None:
        return installed.version
    return _torch_from_companions(ctx.family, ctx.compat, spec, ctx.python)


def _auto_variant_for(ctx: _Context, torch_version: str | None) -> tuple[Variant | None, str]:
    """``--compute auto``: keep the installed torch's build, else pick for the GPU (or CPU)."""
    installed = ctx.env.get("torch")
    build = ctx.env.torch_build("torch")
    if installed is not None and build is not None and build.variant in ctx.compat.variants \
            and (torch_version is None or _offers(ctx.compat, torch_version, build.variant)):
        return ctx.compat.variants[build.variant], f"the build of the installed torch {installed.version}"
    if ctx.torch_request is not None or installed is None:
        provisional = torch_version or ctx.compat.newest_torch(ctx.torch_spec, ctx.python)
        return auto_variant(ctx.env, ctx.compat, provisional)
    return None, ""  # an installed torch of unknown build is left alone, and so is its companions' build


def _check_variant(ctx: _Context, chosen: Variant | None, explicit: bool) -> None:
    installed = ctx.env.get("torch")
    build = ctx.env.torch_build("torch")
    if explicit and ctx.torch_request is None and installed is not None and build is not None \
            and build.variant not in (None, chosen.name):
        raise PackageError(
            f"--compute {chosen.name} does not match the installed torch {installed.version} "
            f"({build.describe()}); torchvision/torchaudio must be the same build as torch",
            hint=f"install torch too: minim install torch {' '.join(ctx.family)} --compute {chosen.name}")
    if chosen is not None and ctx.env.system == "Darwin" and chosen.kind != "cpu":
        raise PackageError(f"--compute {chosen.name}: PyTorch publishes no {chosen.kind.upper()} wheels for macOS")


def _unpinned_torch_version(ctx: _Context, chosen: Variant | None, upgrade: bool) -> str | None:
    """An unpinned torch request: the installed torch when it satisfies it (pip keeps it too, unless
    --upgrade), else the newest release with the variant, the Python and a release of every companion
    that is installed or asked for. None when pip may choose freely."""
    request, spec = ctx.torch_request, ctx.torch_spec
    if request is None:
        return None
    installed = ctx.env.get("torch")
    build = ctx.env.torch_build("torch")
    if installed is not None and not upgrade and spec.contains(public(installed.version), prereleases=True) \
            and (chosen is None or build is None or build.variant == chosen.name):
        return installed.version
    companions = tuple(n for n in COMPANIONS
                       if (n in ctx.family and exact_version(ctx.family[n].requirement.specifier) is None)
                       or ctx.env.get(n) is not None)
    if chosen is None and len(ctx.family) == 1 and not companions:
        return None
    variant = chosen.name if chosen else None
    version = (ctx.compat.newest_torch(spec, ctx.python, variant, companions)
               or ctx.compat.newest_torch(spec, ctx.python, variant))
    if version is None:
        raise PackageError(
            f"no torch release known to minim matches {request.text!r} for Python {ctx.python}"
            + (f" with a {chosen.name} build" if chosen else ""),
            hint=f"known torch releases: {_fmt(ctx.compat.versions('torch'))}")
    return version


def _needs_local_tag(ctx: _Context, chosen: Variant | None, torch_version: str | None) -> bool:
    """True when PyPI does not serve the chosen build, so pins carry ``+<variant>`` and PyTorch's index is used."""
    if chosen is None:
        return False
    if torch_version is not None:
        return _default_build(ctx.compat, torch_version, ctx.env.system) != chosen.name
    return chosen.name != "cpu" or ctx.env.system == "Linux"


def _pin_torch(ctx: _Context, decision: TorchDecision, torch_version: str | None, chosen: Variant | None,
               tagged: bool) -> None:
    request, spec = ctx.torch_request, ctx.torch_spec
    if request is not None:
        if torch_version is not None and (tagged or spec != SpecifierSet(f"=={torch_version}")):
            decision.pins["torch"] = _local_pin("torch", torch_version, chosen, tagged)
            decision.reasons["torch"] = "requested" + (f" ({chosen.name} build)" if tagged else "")
        elif tagged:
            decision.pins["torch"] = request.text
    elif ctx.env.get("torch") is None and torch_version is not None:
        decision.pins["torch"] = _local_pin("torch", torch_version, chosen, tagged)
        decision.reasons["torch"] = f"{'/'.join(ctx.family)} needs torch {series_of(torch_version)}"
    elif torch_version is not None and not ctx.no_deps:
        decision.holds["torch"] = f"torch=={ctx.env.get('torch').version}"
        decision.reasons["torch"] = f"installed; kept, {'/'.join(ctx.family)} pairs with it"


def _pin_companions(ctx: _Context, decision: TorchDecision, torch_version: str | None, chosen: Variant | None,
                    tagged: bool) -> None:
    """Pins for requested companions and for installed ones a torch change would leave behind."""
    installed = ctx.env.get("torch")
    build = ctx.env.torch_build("torch")
    torch_changes = ctx.torch_request is not None and (
        installed is None or torch_version is None
        or public(installed.version) != public(torch_version)
        or (build is not None and chosen is not None and build.variant != chosen.name))
    for name in COMPANIONS:
        request = ctx.family.get(name)
        if request is None and not (torch_changes and ctx.env.get(name) is not None):
            continue
        if torch_version is None or not ctx.compat.knows_torch(torch_version):
            if request is not None and tagged:
                decision.notes.append(f"torch {torch_version or '?'} is not in packages.json: {name} is left to pip")
            continue
        version = _companion(name, request, torch_version, ctx.compat, ctx.python, installed=ctx.env.version(name),
                             upgrade=ctx.upgrade)
        decision.pins[name] = _companion_pin(ctx, name, version, request, torch_version, chosen, tagged)
        decision.reasons[name] = (f"requested; pairs with torch {torch_version}" if request is not None
                                  else f"keeps {name} paired with torch {torch_version}")


def _companion_pin(ctx: _Context, name: str, version: str, request: Requested | None, torch_version: str,
                   chosen: Variant | None, tagged: bool) -> str:
    """``torchvision>=0.29.1,<0.30``: every release that pairs, so pip takes one the index has. Exact
    (``==version``) for an exact request, and with a local tag (PyTorch's index and PyPI both serve the
    version; only the tag tells the builds apart)."""
    spec = request.requirement.specifier if request is not None else None
    if tagged or (spec is not None and exact_version(spec) is not None):
        return _local_pin(name, version, chosen, tagged)
    pairing = ctx.compat.pairing_specifier(name, torch_version, ctx.python, spec)
    return f"{name}{pairing}" if pairing else _local_pin(name, version, chosen, tagged)


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
               installed: str | None, upgrade: bool = False) -> str:
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
        if paired and request is not None:
            hint = f"{name} releases for torch {torch_version}: {_fmt(paired)}"
        elif installed:
            hint = f"uninstall {name} first (minim uninstall {name}) or choose another torch{built}"
        else:
            hint = f"install a torch that {name} has a release for{built}"
        raise PackageError(f"{why} pairs with torch {torch_version} (Python {python})", hint=hint)
    if installed and installed in fitting and (request is None or not upgrade):
        return installed  # pip keeps a satisfying installed version too, unless --upgrade
    return fitting[0]


def validate_compute(compute: str, compat: CompatData) -> None:
    """``auto`` or a variant packages.json knows; anything else is a UsageError with a did-you-mean."""
    if compute == "auto":
        return
    if not compute:
        raise UsageError("--compute needs a value: auto, cpu, cu121, ...")
    compat.variant(compute)
