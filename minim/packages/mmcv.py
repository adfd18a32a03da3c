"""Resolve what OpenMMLab packages ask of mmcv (and mmengine) for the installed torch.

For the mmcv requirement of the packages being installed (their ``mim`` extra or ``mminstall.txt``,
see :mod:`minim.packages.openmmlab`), first rule that applies:

1. an installed mmcv, mmcv-full or mmcv-lite in the asked range is kept (unless ops are asked for and
   it is a lite build);
2. a published wheel with ops: mmcv's per-torch find-links page (packages.json ``backends``) for the
   torch version and build that is installed, when it has a wheel in range for this Python;
3. the lite build, without compiled ops, when every package asking works without them (packages.json
   ``openmmlab.packages.<name>.needs_ops`` false; mmcls 0.25 does, measured) or ``--no-mmcv-ops``:
   mmcv 1.x is built here from its sdist with ``MMCV_WITH_OPS=0``; mmcv 2.x is ``mmcv-lite`` from the index;
4. else a build from source with the ops, against the installed torch (``--mmcv-ops`` forces this
   when no wheel exists), with ``TORCH_CUDA_ARCH_LIST`` from the GPU and a rough time estimate.

mmcv named on the command line goes through the same rules, with the name saying whether ops are wanted
(``mmcv-full``, and ``mmcv`` 2.x, have them; ``mmcv`` 1.x and ``mmcv-lite`` do not) unless ``--mmcv-ops`` /
``--no-mmcv-ops`` says otherwise.

Other requirements (mmengine, mmdet for mmocr, ...) are added to pip's request as they are.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from minim.env.model import Environment
from minim.errors import PackageError
from minim.packages.compat import CompatData, parse_version, series_of
from minim.packages.openmmlab import MmRequirement
from minim.packages.wheelbuild import BuildStep, cache_dir

OPENCV = ("opencv-python", "opencv-python-headless", "opencv-contrib-python", "opencv-contrib-python-headless")


@dataclass
class MmcvResolution:
    """What the OpenMMLab requirements add to an install."""

    #: requirements pip gets in the dry run and the install
    targets: list[str] = field(default_factory=list)
    #: requirements of wheels still to be built: the install gets them, the dry run cannot
    pending: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    builds: list[BuildStep] = field(default_factory=list)
    #: canonical name -> why it is in the plan
    reasons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    #: mmcv's wheel page was looked up and has no wheel that fits: a note says what minim does instead
    no_published_wheel: bool = False

    @property
    def empty(self) -> bool:
        return not (self.targets or self.pending)


@dataclass
class TorchTarget:
    """The torch mmcv is resolved for: version and compute build (None when not installed or unknown)."""

    version: str | None
    variant: str | None


def _combined(requirements: list[MmRequirement]) -> SpecifierSet:
    from packaging.requirements import Requirement

    spec = SpecifierSet()
    for item in requirements:
        spec &= Requirement(item.requirement).specifier
    return spec


def _series(names: set[str], spec: SpecifierSet) -> str:
    """mmcv's major series a requirement means: mmcv-full is 1.x, mmcv-lite 2.x, mmcv by its range."""
    if "mmcv-full" in names:
        return "1"
    if "mmcv-lite" in names:
        return "2"
    return "2" if any(spec.contains(Version(v)) for v in ("2.0.0", "2.1.0", "2.2.0", "2.3.0")) else "1"


def _why(group: list[MmRequirement]) -> str:
    return "; ".join(item.describe() for item in group)


def _who(group: list[MmRequirement]) -> tuple[str, bool]:
    """Who asks (``"mmcls, mmdet"``, ``"the requested mmcv-full"``) and whether that is one party."""
    names = sorted({item.wanted_by for item in group if not item.requested})
    names += sorted({f"the requested {item.key}" for item in group if item.requested})
    return ", ".join(names), len(names) == 1


def _never_published(ops_dist: str, torch: TorchTarget, compat: CompatData) -> str | None:
    """"OpenMMLab never published mmcv-full wheels for torch 2.x" when packages.json says so for this torch."""
    published = compat.backends.get(ops_dist, {}).get("published_for_torch")
    version = parse_version(torch.version) if torch.version else None
    if not published or version is None or SpecifierSet(published).contains(version, prereleases=True):
        return None
    return (f"OpenMMLab never published {ops_dist} wheels for torch {version.major}.x (only for torch {published}); "
            "only a build from source gives its compiled ops")


def _installed_fit(env: Environment, compat: CompatData, spec: SpecifierSet, want_ops: bool | None):
    for name in compat.mmcv_names():
        dist = env.get(name)
        if dist is None or parse_version(dist.version) is None or not spec.contains(parse_version(dist.version),
                                                                                     prereleases=True):
            continue
        lite = name == "mmcv-lite" or (name == "mmcv" and parse_version(dist.version).major < 2)
        if want_ops and lite:
            continue
        return dist
    return None


def _published_wheel(ops_dist: str, spec: SpecifierSet, env: Environment, compat: CompatData, torch: TorchTarget,
                     apply_mirror, result: MmcvResolution) -> tuple[str, str] | None:
    """``(requirement, page)`` of the newest published wheel with ops that fits, else None (with a note why)."""
    from minim.packages.pages import fits_python, newest, read_page

    template = compat.backends.get(ops_dist, {}).get("find_links")
    if not template:
        return None
    if torch.version is None or torch.variant is None:
        result.notes.append(f"{ops_dist} wheels are built per torch version and build, and torch is "
                            f"{'not installed' if torch.version is None else 'of an unknown build'}: "
                            "no published wheel can be chosen")
        return None
    page = apply_mirror(template.format(variant=torch.variant, torch_series=series_of(torch.version)))
    status, files = read_page(page)
    never = _never_published(ops_dist, torch, compat)
    result.no_published_wheel = True  # until one is found below
    if status is None:
        result.notes.append(f"{page} is unreachable" + (f", and no wheel is missed: {never}" if never else
                                                        f": no published {ops_dist} wheel could be looked up"))
        return None
    if status in (403, 404, 410):
        result.notes.append(f"OpenMMLab never published {ops_dist} wheels for torch {series_of(torch.version)} "
                            f"({torch.variant}): {page} answers HTTP {status}")
        return None
    fitting = [f for f in files if canonicalize_name(f.project) == ops_dist
               and fits_python(f, env.python_version, env.platform)]
    chosen = newest(fitting, spec, kind="wheel")
    if chosen is None:
        result.notes.append(f"{page} has no {ops_dist} wheel in {spec or 'any version'} for Python "
                            f"{env.python_version} ({env.platform})")
        return None
    result.no_published_wheel = False
    return f"{ops_dist}=={chosen.version}", page


def _sdist(project: str, spec: SpecifierSet, indexes: list[str]):
    from minim.packages.pages import newest, project_files

    chosen = newest(project_files(indexes, project), spec, kind="sdist")
    if chosen is None:
        where = f"on {', '.join(indexes)}" if indexes else "(--no-index: no index is read)"
        raise PackageError(f"no sdist of {project} in {spec or 'any version'} {where}",
                           hint="give an index that has it with --index-url / --extra-index-url")
    return chosen


def _lite_cache(env: Environment, dist: str, version: str):
    """The cache folder of a lite build. mmcv 1.x's setup.py requires opencv-python only when ``cv2`` does not
    import at build time, so a wheel built without OpenCV ('nocv2') fits where opencv-python or no OpenCV is
    installed, and one built beside an OpenCV ('cv2') fits where any is."""
    installed = [name for name in OPENCV if env.get(name)]
    mine = cache_dir(dist, version, "lite-cv2" if installed else "lite-nocv2")
    other = cache_dir(dist, version, "lite-nocv2")
    if installed and installed == ["opencv-python"] and not any(mine.glob("*.whl")) and any(other.glob("*.whl")):
        return other
    return mine


def _cuda_settings(env: Environment) -> dict:
    """``TORCH_CUDA_ARCH_LIST`` and ``FORCE_CUDA`` for an ops build against a CUDA torch on a GPU machine."""
    build = env.torch_build("torch")
    if build is None or build.kind != "cuda" or not env.gpu.available:
        return {}
    from minim.env.gpu import cuda_arch_list

    arch = os.environ.get("TORCH_CUDA_ARCH_LIST") or cuda_arch_list()
    return {"FORCE_CUDA": "1", **({"TORCH_CUDA_ARCH_LIST": arch} if arch else {})}


def _estimate(compat: CompatData, cuda: dict) -> float | None:
    """Minutes an ops build roughly takes on this machine's cores (packages.json ``ops_build_estimate``)."""
    numbers = compat.mmcv.get("ops_build_estimate") or {}
    if not numbers:
        return None
    seconds = numbers.get("cpp_files", 0) * numbers.get("cpu_seconds_per_file", 0)
    if cuda:
        arches = len((cuda.get("TORCH_CUDA_ARCH_LIST") or "x").replace(";", " ").split())
        seconds += numbers.get("cuda_files", 0) * numbers.get("cuda_seconds_per_file_per_arch", 0) * arches
    return seconds / 60 / max(1, os.cpu_count() or 1)


def _add_build(result: MmcvResolution, step: BuildStep, reason: str) -> None:
    requirement = f"{step.dist}=={step.version}"
    result.builds.append(step)
    result.find_links.append(step.cache_dir)
    (result.targets if step.cached_wheel() else result.pending).append(requirement)
    result.reasons[canonicalize_name(step.dist)] = reason


def _runtime_requires(series: str, recipe: dict, env: Environment, compat: CompatData, torch: TorchTarget,
                      group: list[MmRequirement], result: MmcvResolution) -> None:
    """What mmcv imports without declaring it (mmcv 1.x: torchvision), paired with the torch there, when missing."""
    for name in recipe.get("runtime_requires", []):
        if env.get(name) is not None:
            continue
        pairing = compat.pairing_specifier(name, torch.version, env.python_version) if torch.version else None
        if pairing is None:  # never a bare torchvision: pip would pick a torch for it (gigabytes, maybe CUDA)
            result.notes.append(f"mmcv {series}.x imports {name} without declaring it, and no {name} release is known "
                                f"to pair with {'torch ' + torch.version if torch.version else 'an installed torch'}: "
                                f"install it with minim install {name}")
            continue
        result.targets.append(name + pairing)
        result.reasons[canonicalize_name(name)] = (f"mmcv {series}.x imports it (mmcv.runner) without declaring it; "
                                                   f"{_why(group)}")


def _resolve_mmcv(group: list[MmRequirement], env: Environment, compat: CompatData, torch: TorchTarget,
                  ops: bool | None, indexes: list[str], apply_mirror, result: MmcvResolution,
                  look_up_pages: bool = True, reinstall: bool = False, with_runtime: bool = True) -> None:
    spec = _combined(group)
    names = {item.key for item in group}
    series = _series(names, spec)
    recipe = compat.mmcv_recipe(series)
    if not recipe:
        raise PackageError(f"packages.json has no recipe for mmcv {series}.x ({_why(group)})")
    ops_dist = canonicalize_name(recipe["ops"]["dist"])
    explicit = [item for item in group if item.requested]
    askers = sorted({item.wanted_by for item in group if not item.requested})
    need_ops = any(compat.needs_ops(name) for name in askers)
    flag = ops
    if ops is None and explicit:  # the name asked for says it: mmcv-full has ops, mmcv 1.x has none
        ops = any(item.key == ops_dist for item in explicit)
    if with_runtime:
        _runtime_requires(series, recipe, env, compat, torch, group, result)
    kept = None if reinstall else _installed_fit(env, compat, spec, ops if ops is not None else need_ops)
    if kept is not None:
        result.notes.append(f"{kept.name} {kept.version} is installed and fits {_why(group)}")
        return
    who, one = _who(group)
    if ops is not False and look_up_pages:
        wheel = _published_wheel(ops_dist, spec, env, compat, torch, apply_mirror, result)
        if wheel is not None:
            requirement, page = wheel
            result.targets.append(requirement)
            result.find_links.append(page)
            result.reasons[ops_dist] = f"published wheel with ops for torch {torch.version}; {_why(group)}"
            return
    if ops is False or (ops is None and not need_ops):
        _resolve_lite(group, spec, recipe, env, flag, who, one, indexes, result)
        return
    torch_dist = env.get("torch")
    if torch_dist is None:
        raise PackageError(f"{who} need{'s' if one else ''} mmcv's compiled ops, no "
                           f"published {ops_dist} wheel fits, and building them needs torch installed first",
                           hint="install torch first (minim install torch), or pass --no-mmcv-ops for the lite "
                                "build (no ops)")
    sdist = _sdist(recipe["ops"]["sdist"], spec, indexes)
    cuda = _cuda_settings(env)
    flavour = f"ops-torch{torch_dist.version}-py{series_of(env.python_version)}" + (
        f"-{cuda['TORCH_CUDA_ARCH_LIST'].replace(' ', '_').replace(';', '_')}" if cuda.get("TORCH_CUDA_ARCH_LIST")
        else "")
    step = BuildStep(recipe["ops"]["dist"], str(sdist.version), sdist.url, True,
                     dict(recipe["ops"].get("env", {}), **cuda), list(recipe.get("build_requires", [])),
                     str(cache_dir(recipe["ops"]["dist"], str(sdist.version), flavour)), _estimate(compat, cuda))
    why = "--mmcv-ops" if flag else f"{who} need{'s' if one else ''} mmcv's compiled ops"
    _add_build(result, step, f"{why}, and no published wheel fits: build from source with ops; {_why(group)}")
    if result.no_published_wheel:
        result.notes.append(f"instead of a published wheel: {step.describe()}; --no-mmcv-ops gives the lite build "
                            "(no ops)")


def _resolve_lite(group: list[MmRequirement], spec: SpecifierSet, recipe: dict, env: Environment, flag: bool | None,
                  who: str, one: bool, indexes: list[str], result: MmcvResolution) -> None:
    """The lite build (no compiled ops): mmcv-lite from the index, or mmcv 1.x built here (or cached).
    ``flag``: --mmcv-ops / --no-mmcv-ops (None: neither)."""
    lite = recipe["lite"]
    if flag is False:
        why = "--no-mmcv-ops"
    elif any(item.requested for item in group):
        why = "lite build (no compiled ops), as requested"
    else:
        why = (f"lite build (no compiled ops): {who} work{'s' if one else ''} without mmcv's ops "
               "(packages.json openmmlab.packages)")
    if lite.get("index"):
        result.targets.append(f"{lite['dist']}{spec}")
        result.reasons[canonicalize_name(lite["dist"])] = f"{why}; {_why(group)}"
        instead = f"{lite['dist']} {spec} from the index (no compiled ops)"
    else:
        sdist = _sdist(lite["sdist"], spec, indexes)
        step = BuildStep(lite["dist"], str(sdist.version), sdist.url, False, dict(lite.get("env", {})),
                         list(recipe.get("build_requires", [])),
                         str(_lite_cache(env, lite["dist"], str(sdist.version))))
        _add_build(result, step, f"{why}; {_why(group)}")
        instead = step.describe()
    if result.no_published_wheel:
        slow = f"; --mmcv-ops builds {recipe['ops']['dist']} with its ops from source (slow)"
        result.notes.append(f"instead of a published wheel: {instead}" + ("" if flag is False else slow))


def resolve(requirements: list[MmRequirement], env: Environment, compat: CompatData, torch: TorchTarget,
            ops: bool | None, indexes: list[str], apply_mirror=lambda url: url, look_up_pages: bool = True,
            reinstall: bool = False, with_runtime: bool = True) -> MmcvResolution:
    """What ``requirements`` add to the install (see the module docstring for the rules). ``look_up_pages``
    False (--no-index) skips mmcv's wheel pages; ``reinstall`` replaces an installed mmcv that fits;
    ``with_runtime`` False (--no-deps) adds no undeclared runtime requirement (torchvision)."""
    result = MmcvResolution()
    mmcv_names = set(compat.mmcv_names())
    group = [item for item in requirements if item.key in mmcv_names]
    if group:
        _resolve_mmcv(group, env, compat, torch, ops, indexes, apply_mirror, result, look_up_pages, reinstall,
                      with_runtime)
    others: dict[str, list[MmRequirement]] = {}
    for item in requirements:
        if item.key not in mmcv_names:
            others.setdefault(item.key, []).append(item)
    for key, items in others.items():
        from packaging.requirements import Requirement

        name = Requirement(items[0].requirement).name
        result.targets.append(f"{name}{_combined(items)}")
        result.reasons[key] = _why(items)
    return result
