"""``minim doctor``: find what breaks an environment, say how to fix each problem, and fix it on request.

Checks (each finding has a severity, a one-line explanation and the exact command that fixes it):

* ``shadowed-import`` -- two distributions ship different copies of the same files under one import
  package (mmcv next to mmcv-full, opencv-python next to opencv-python-headless). The fix downloads
  the one to keep, removes both and installs the downloaded files. Which one is kept, first rule that decides:
  1. the one other installed distributions require by name (mmcls requires mmcv-full);
  2. the preference table in packages.json (``import_conflicts``: on a machine without a display
     the headless OpenCV builds, which need no libGL);
  3. the one whose copy of the files is on disk now (the last one installed won);
  4. the most recently installed.
* ``torch-pair`` -- torchvision/torchaudio not built for the installed torch (error when its own
  pin rejects that torch, warning when only the release series differs).
* ``torch-build`` -- a CUDA build of torch with no usable GPU, a CPU build on a GPU machine, or a
  CUDA build newer than the driver runs.
* ``torchvision-ops`` -- torchvision's compiled operators fail to load. On Linux the check reads
  the ELF symbol tables: every torch symbol ``torchvision/_C*.so`` needs must be defined by one of
  torch's libraries (what the dynamic linker decides), in a fraction of a second and without
  importing torch. Elsewhere, and with ``--deep`` in addition, a subprocess imports torch and runs
  ``torchvision.ops.nms`` (a few seconds; cached per torch/torchvision install unless ``--deep``).
* ``mmcv-ops`` -- mmcv-full's (or a full mmcv build's) compiled operators, ``mmcv/_ext*.so``, need
  torch symbols the installed torch lacks (the "undefined symbol" after a torch upgrade); the fix
  reinstalls the same mmcv release, whose wheel index is chosen for the installed torch.
* ``openmmlab`` -- an OpenMMLab package that cannot be imported because the mmcv (or mmengine) its
  ``mim`` extra or ``mminstall.txt`` asks for is missing or outside the range it asserts on import
  (mmcls 0.25: ``MMCV==2.1.0 is used but incompatible``); the fix is ``minim install <package>==<version>``,
  which resolves mmcv for the installed torch (a published wheel, else the lite build where the
  package works without ops), built or downloaded before an mmcv outside the range is uninstalled.
* ``missing-files`` -- a distribution whose RECORD lists files that are gone (uninstalling a package
  that shared them deletes them); the fix force-reinstalls it.
* ``broken-metadata`` -- a ``*.dist-info`` folder without METADATA or without a Version, which makes
  pip itself crash; the fix (printed, not applied) removes that folder.
* ``unsatisfied`` -- requirements of installed distributions that are missing or the wrong
  version, as ``pip check`` reports them (minim's own included).
* ``no-pip`` -- the target has no pip.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from dataclasses import dataclass, field
from typing import Callable

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.atomic import write_text_atomic
from minim.env.model import Dist, Environment, SharedFiles
from minim.env.probe import probe_environment, run_in_target
from minim.packages.compat import COMPANIONS, CompatData, load_compat, public, series_of
from minim.packages.plan import InstallOptions
from minim.packages.requirements import reverse_dependencies, unsatisfied_requirements
from minim.packages.torchplan import auto_variant

SEVERITIES = ("error", "warning", "info")
OPSCHECK_TIMEOUT = 180.0


@dataclass
class Fix:
    """What ``--fix`` does for one finding: uninstall some distributions, then install with minim."""

    uninstall: list[str] = field(default_factory=list)
    install: InstallOptions | None = None
    #: how the install line reads on a command line (after ``minim install``)
    install_words: list[str] = field(default_factory=list)
    #: build and download everything the install needs (dependencies too) before uninstalling
    prefetch: bool = False


@dataclass
class Finding:
    code: str
    severity: str
    message: str
    fix_command: str | None = None
    fix: Fix | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix_command}


@dataclass
class FixContext:
    """Options of a doctor run: how deep to check, and the index flags the fixes' installs use."""

    python: str
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    mirror: str | None = None
    explicit_python: bool = False
    #: also import torch in a subprocess to run torchvision's operators (slow; the static check is the default)
    deep: bool = False

    def flags(self) -> list[str]:
        words = []
        if self.explicit_python:
            words += ["--python", self.python]
        if self.index_url:
            words += ["--index-url", self.index_url]
        for url in self.extra_index_urls:
            words += ["--extra-index-url", url]
        for link in self.find_links:
            words += ["--find-links", link]
        if self.mirror:
            words += ["--mirror", self.mirror]
        return words

    def install_fix(self, words: list[str], uninstall: list[str] = (), **flags) -> tuple[Fix, str]:
        """A :class:`Fix` installing ``words`` (requirements and minim flags) and its command line."""
        specs = [w for w in words if not w.startswith("-")]
        options = InstallOptions(specs=specs, index_url=self.index_url, extra_index_urls=list(self.extra_index_urls),
                                 find_links=list(self.find_links), mirror=self.mirror, **flags)
        flag_words = [f"--{k.replace('_', '-')}" for k, v in flags.items() if v is True]
        flag_words += [w for k, v in flags.items() if isinstance(v, str) for w in (f"--{k}", v)]
        command = []
        if uninstall:
            command.append(shlex.join(["minim", "uninstall", "-y", *uninstall, *(
                ["--python", self.python] if self.explicit_python else [])]))
        command.append(shlex.join(["minim", "install", *specs, *flag_words, "-y", *self.flags()]))
        return Fix(list(uninstall), options, specs + flag_words), " && ".join(command)


def _keeper(group: SharedFiles, env: Environment, compat: CompatData) -> tuple[str, str]:
    """Which distribution of ``group`` to keep, and why (see the module docstring)."""
    names = [n for n in group.distributions if env.get(n) is not None]
    members = {canonicalize_name(n) for n in names}
    required = [n for n in names if reverse_dependencies(env, n, exclude=members)]
    if len(required) == 1:
        users = reverse_dependencies(env, required[0], exclude=members)
        return required[0], f"{', '.join(users)} require{'s' if len(users) == 1 else ''} it"
    fitting, askers = _openmmlab_fit(names, env, compat)
    if len(fitting) == 1:
        return fitting[0], f"{', '.join(askers)} assert{'s' if len(askers) == 1 else ''} its version range"
    for entry in compat.import_conflicts:
        listed = {canonicalize_name(d) for d in entry.get("distributions", [])}
        if not members <= listed:
            continue
        order = entry.get("prefer_with_display") if env.has_display and entry.get("prefer_with_display") \
            else entry.get("prefer", [])
        for preferred in order:
            for name in names:
                if canonicalize_name(name) == canonicalize_name(preferred):
                    where = "a machine with a display" if env.has_display else "a machine without a display"
                    return name, f"preferred on {where} ({entry.get('import')})"
    if group.on_disk and group.on_disk in names:
        return group.on_disk, "its files are the ones on disk now"
    newest = max(names, key=lambda n: env.get(n).installed_at or 0.0)
    return newest, "installed most recently"


def _openmmlab_fit(names: list[str], env: Environment, compat: CompatData) -> tuple[list[str], list[str]]:
    """Which of the mmcv distributions ``names`` fit every installed OpenMMLab package's mmcv range, and those packages."""
    from minim.packages.openmmlab import installed_requirements

    mmcv_names = set(compat.mmcv_names())
    if not {canonicalize_name(n) for n in names} <= mmcv_names:
        return [], []
    asked = [item for item in installed_requirements(env, compat) if item.key in mmcv_names]
    if not asked:
        return [], []
    fitting = [n for n in names if all(Requirement(item.requirement).specifier.contains(public(env.version(n)),
                                                                                           prereleases=True)
                                       for item in asked)]
    return fitting, sorted({item.wanted_by for item in asked})


def _no_wheel(name: str, version: str, compat: CompatData) -> str | None:
    """Why ``name==version`` cannot be reinstalled from a wheel (an mmcv 1.x lite build minim did not build here)."""
    from minim.packages.wheelbuild import cached_wheel_dirs

    parsed = public(version)
    if canonicalize_name(name) != "mmcv" or parsed is None or parsed.major >= 2:
        return None
    if cached_wheel_dirs(name, SpecifierSet(f"=={parsed}")):
        return None
    return (f"no fix is printed: mmcv {version} (1.x without ops) is published as an sdist only and minim did not "
            "build it here, so there is no wheel to reinstall it from")


def check_shared_files(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    findings = []
    for group in env.shared_files or []:
        names = [n for n in group.distributions if env.get(n) is not None]
        if len(names) < 2:
            continue
        keep, why = _keeper(group, env, compat)
        version = env.version(keep)
        where = f"; 'import {group.package}' loads {group.on_disk}'s copy" if group.on_disk else \
            "; the files on disk match neither (a mix of both)"
        message = (f"{' and '.join(names)} both ship {group.package}/ ({group.differing_files} differing "
                   f"file{'s' if group.differing_files != 1 else ''}, e.g. {group.sample_file}){where}; "
                   f"keep {keep} ({why})")
        blocked = _no_wheel(keep, version, compat)
        if blocked:
            findings.append(Finding("shadowed-import", "error", f"{message}; {blocked}", None, None))
            continue
        fix, command = ctx.install_fix([f"{keep}=={version}"], uninstall=names, no_deps=True, force_reinstall=True)
        findings.append(Finding("shadowed-import", "error", message, command, fix))
    return findings


def check_torch_pairs(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    torch = env.get("torch")
    if torch is None:
        return []
    findings = []
    for name in COMPANIONS:
        companion = env.get(name)
        if companion is None:
            continue
        verdict = compat.pairs(name, companion.version, torch.version)
        if verdict is not False:
            continue
        entry = compat.release(name, companion.version) or {}
        pin = entry.get("requires_torch")
        broken_pin = False
        if pin:
            broken_pin = not SpecifierSet(pin).contains(public(torch.version), prereleases=True)
        paired = compat.companions_for(name, torch.version, env.python_version)
        message = (f"{name} {companion.version} is built for torch {entry.get('torch_series')}, "
                   f"but torch {torch.version} is installed")
        if paired:
            fix, command = ctx.install_fix([name + compat.pairing_specifier(name, torch.version, env.python_version)])
            message += f"; torch {torch.version} pairs with {name} {paired[0]}"
        else:
            fix, command = ctx.install_fix([f"torch=={entry.get('torch_series')}.*", name]) \
                if entry.get("torch_series") else (None, None)
            message += f"; no {name} release pairs with torch {series_of(torch.version)}"
        findings.append(Finding("torch-pair", "error" if broken_pin else "warning", message, command, fix))
    return findings


def check_torch_build(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    torch = env.get("torch")
    build = env.torch_build("torch")
    if torch is None or build is None or build.kind == "unknown":
        return []
    gpu = env.gpu
    version = str(public(torch.version))
    findings = []
    if build.kind == "cuda" and not (gpu.available and gpu.vendor == "nvidia"):
        fix, command = ctx.install_fix([f"torch=={version}"], compute="cpu")
        findings.append(Finding(
            "torch-build", "warning",
            f"torch {torch.version} is a {build.describe()} build, but no NVIDIA GPU is usable ({gpu.source}): "
            f"it runs on the CPU and carries the CUDA libraries for nothing", command, fix))
    elif build.kind == "rocm" and not (gpu.available and gpu.vendor == "amd"):
        fix, command = ctx.install_fix([f"torch=={version}"], compute="cpu")
        findings.append(Finding("torch-build", "warning",
                                f"torch {torch.version} is a {build.describe()} build, but no AMD GPU is usable",
                                command, fix))
    elif build.kind == "cpu" and gpu.available:
        variant, _ = auto_variant(env, compat, version)
        fix = command = None
        if variant is not None and variant.kind != "cpu":
            fix, command = ctx.install_fix([f"torch=={version}"], compute=variant.name)
        findings.append(Finding("torch-build", "warning",
                                f"torch {torch.version} is a CPU build, but {gpu.describe()} is usable",
                                command, fix))
    elif build.kind == "cuda" and gpu.available and gpu.vendor == "nvidia" and build.cuda and gpu.driver:
        minimum = compat.min_driver(build.cuda, env.system)
        too_old = False
        try:
            too_old = minimum is not None and Version(gpu.driver) < Version(minimum)
        except InvalidVersion:
            pass
        if too_old:
            variant, _ = auto_variant(env, compat, version)
            fix = command = None
            if variant is not None:
                fix, command = ctx.install_fix([f"torch=={version}"], compute=variant.name)
            findings.append(Finding(
                "torch-build", "error",
                f"torch {torch.version} needs an NVIDIA driver >= {minimum} for CUDA {build.cuda}, "
                f"but the driver is {gpu.driver}: torch.cuda will not work", command, fix))
    return findings


def _opscheck_key(env: Environment) -> str:
    parts = [env.python]
    for name in ("torch", "torchvision"):
        dist = env.get(name)
        parts += [dist.version, str(dist.installed_at), str(dist.dist_info)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def run_opscheck(env: Environment, use_cache: bool = True) -> dict:
    """``torchvision.ops.nms`` in a fresh interpreter; cached per torch/torchvision install."""
    from minim.settings import minim_home

    cache = minim_home() / "doctor" / f"opscheck-{_opscheck_key(env)}.json"
    if use_cache and cache.is_file():
        try:
            return json.loads(cache.read_text())
        except ValueError:
            pass
    try:
        result = run_in_target(env.python, ["opscheck"], timeout=OPSCHECK_TIMEOUT)
    except Exception as exc:  # a crash (segfault, timeout) is itself the finding, but may not recur: not cached
        return {"ok": False, "error": str(exc), "torch_cuda": None, "cuda_available": None}
    try:
        write_text_atomic(cache, json.dumps(result))
    except OSError:
        pass
    return result


def _link_error(torch: Dist, extensions: list[Path]) -> tuple[bool, str | None]:
    """``(decided, error)`` for compiled extensions linked against the installed torch's libraries."""
    from minim.env.linkcheck import link_problems

    torch_lib = Path(torch.location) / "torch" / "lib"
    for extension in extensions:
        problems = link_problems(extension, torch_lib)
        if problems is None:
            return False, None
        if problems:
            return True, f"{extension.name}: {problems.describe()}"
    return True, None


def static_ops_error(env: Environment) -> tuple[bool, str | None]:
    """``(decided, error)`` from torchvision's files alone: a missing operator library or unresolved torch symbols."""
    from minim.env.linkcheck import extension_files

    torch, vision = env.get("torch"), env.get("torchvision")
    if torch.location is None or vision.location is None:
        return False, None
    package = Path(vision.location) / "torchvision"
    extensions = extension_files(package)
    if not extensions:
        return True, f"torchvision has no compiled operator library ({package / '_C.so'} is missing)"
    return _link_error(torch, extensions)


def check_torchvision_ops(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    torch, vision = env.get("torch"), env.get("torchvision")
    if torch is None or vision is None or not torch.has_package or not vision.has_package:
        return []
    if compat.pairs("torchvision", vision.version, torch.version) is False:
        return []  # not a released pair: the torch-pair finding's fix replaces torchvision (one cause, one fix)
    decided, error = static_ops_error(env)
    if error is None and (ctx.deep or not decided):
        result = run_opscheck(env, use_cache=not ctx.deep)
        error = None if result.get("ok") else result.get("error")
    if error is None:
        return []
    target = compat.pairing_specifier("torchvision", torch.version, env.python_version) \
        or f"=={public(vision.version)}"
    # --no-deps: a forced reinstall re-resolves torchvision's own torch>=X pin and would upgrade torch
    fix, command = ctx.install_fix([f"torchvision{target}"], force_reinstall=True, no_deps=True)
    return [Finding("torchvision-ops", "error",
                    f"torchvision {vision.version}'s compiled operators fail with torch {torch.version}: {error}",
                    command, fix)]


def check_mmcv_ops(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    """mmcv's compiled operators (``mmcv/_ext*.so``) built for another torch: the classic "undefined
    symbol" after upgrading torch. Linux only (read from the ELF files); mmcv-lite has no operators."""
    from minim.env.linkcheck import MMCV_EXTENSIONS, extension_files

    torch = env.get("torch")
    if torch is None or not torch.has_package or torch.location is None:
        return []
    for name in ("mmcv-full", "mmcv"):
        dist = env.get(name)
        if dist is None or dist.location is None:
            continue
        extensions = extension_files(Path(dist.location) / "mmcv", MMCV_EXTENSIONS)
        _, error = _link_error(torch, extensions) if extensions else (True, None)
        if error is None:
            continue
        fix, command = ctx.install_fix([f"{name}=={public(dist.version)}"], force_reinstall=True)
        return [Finding("mmcv-ops", "error",
                        f"{name} {dist.version}'s compiled operators were built for another torch than the "
                        f"installed {torch.version}: {error}", command, fix)]
    return []


def check_openmmlab(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    """OpenMMLab packages whose mmcv/mmengine (``mim`` extra, cached ``mminstall.txt``) is missing or out of range."""
    from minim.packages.openmmlab import installed_requirements

    mmcv_names = set(compat.mmcv_names())
    providers = [env.get(name) for name in compat.mmcv_names() if env.get(name) is not None]
    grouped: dict[tuple[str, str], list] = {}
    for item in installed_requirements(env, compat):
        grouped.setdefault((item.wanted_by, item.wanted_by_version), []).append(item)
    findings = []
    for (name, version), items in grouped.items():
        problems, remove = [], []
        for item in items:
            requirement = Requirement(item.requirement)
            candidates = providers if item.key in mmcv_names else [d for d in [env.get(item.key)] if d is not None]
            if any(requirement.specifier.contains(public(d.version), prereleases=True) for d in candidates):
                continue
            if not candidates:
                problems.append(f"{item.requirement} ({item.via}), which is not installed")
            else:
                have = ", ".join(f"{d.name} {d.version}" for d in candidates)
                problems.append(f"{item.requirement} ({item.via}), but {have} is installed")
                remove += [d.name for d in candidates if item.key in mmcv_names]
        if not problems:
            continue
        message = f"{name} {version} cannot be imported: it needs " + "; ".join(problems)
        if compat.needs_ops(name) and env.get("torch") is None:  # an ops build needs torch: not a fix to print
            findings.append(Finding("openmmlab", "error", message + "; mmcv's ops are built against torch, "
                                    "which is not installed (minim install torch first)", None, None))
            continue
        fix, command = ctx.install_fix([f"{name}=={version}"], uninstall=sorted(set(remove)))
        fix.prefetch = True
        findings.append(Finding("openmmlab", "error", message, command, fix))
    return findings


def check_requirements(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    findings = []
    torch_installed = env.get("torch") is not None
    for problem in unsatisfied_requirements(env):
        if (torch_installed and canonicalize_name(problem.dist) in COMPANIONS and problem.required == "torch"):
            continue  # reported (with the right fix) by the torch-pair check
        requirement = Requirement(problem.requirement)
        requirement.marker = None
        fix, command = ctx.install_fix([str(requirement)])
        findings.append(Finding("unsatisfied", "error", problem.describe(), command, fix))
    return findings


def check_broken_metadata(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    """Metadata folders pip crashes on (no METADATA, no Version): only removing the folder helps."""
    return [Finding("broken-metadata", "error",
                    f"{broken.path}: {broken.problem}; pip crashes on it (pip check, pip uninstall), and "
                    f"the package it belonged to{f' ({broken.name})' if broken.name else ''} is not installed properly",
                    shlex.join(["rm", "-r", broken.path]) if broken.path else None, None)
            for broken in env.broken_metadata]


def check_missing_files(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    """Distributions whose RECORD lists files that are gone (another package's uninstall removed shared files)."""
    findings = []
    for dist in env.dists.values():
        if not dist.missing_files:
            continue
        count = f"{dist.missing_files} file{'s' if dist.missing_files != 1 else ''}"
        message = (f"{dist.name} {dist.version}: {count} of its RECORD missing (e.g. {dist.missing_sample}); "
                   "uninstalling a package that shared them removes them")
        blocked = _no_wheel(dist.name, dist.version, compat)
        if blocked:
            findings.append(Finding("missing-files", "error", f"{message}; {blocked}"))
            continue
        fix, command = ctx.install_fix([f"{dist.name}=={dist.version}"], force_reinstall=True, no_deps=True)
        findings.append(Finding("missing-files", "error", message, command, fix))
    return findings


def check_pip(env: Environment, compat: CompatData, ctx: FixContext) -> list[Finding]:
    if env.pip_version:
        return []
    return [Finding("no-pip", "error", f"{env.python} has no pip: minim cannot install or repair anything there",
                    f"{shlex.quote(env.python)} -m ensurepip --upgrade", None)]


CHECKS: list[Callable[[Environment, CompatData, FixContext], list[Finding]]] = [
    check_pip, check_broken_metadata, check_shared_files, check_missing_files, check_requirements, check_torch_pairs,
    check_torch_build, check_torchvision_ops, check_mmcv_ops, check_openmmlab,
]


def diagnose(python: str | None = None, ctx: FixContext | None = None, env: Environment | None = None,
             compat: CompatData | None = None) -> tuple[Environment, list[Finding]]:
    """Probe the environment (RECORDs included) and run every check."""
    env = env or probe_environment(python, files=True)
    compat = compat or load_compat()
    ctx = ctx or FixContext(env.python, explicit_python=python is not None)
    findings = []
    for check in CHECKS:
        findings.extend(check(env, compat, ctx))
    order = {s: i for i, s in enumerate(SEVERITIES)}
    findings.sort(key=lambda f: order.get(f.severity, 9))
    return env, findings


def _merged_requirements(findings: list[Finding], ctx: FixContext) -> Fix:
    """One install of every unmet requirement (one pip call instead of one minim install each)."""
    specs = [spec for f in findings for spec in f.fix.install.specs]
    fix, _ = ctx.install_fix(list(dict.fromkeys(specs)))
    return fix


def apply_fixes(findings: list[Finding], ctx: FixContext, on_line: Callable[[str], None] | None = None,
                warnings: bool = False) -> tuple[list[str], list[str]]:
    """Carry out the fixes of the error findings (and of warnings with ``warnings``); returns ``(done, failed)``.

    Unmet requirements are installed together, in one pip call, after the other fixes. A fix's install is
    planned (index probed, pip's dry-run resolution) first. A fix that uninstalls (a shadowed import, an mmcv
    outside the range) builds and downloads what it installs before removing anything, and installs those
    local files: a network failure leaves the environment as it was. A fix that fails is reported in
    ``failed`` and the others still run."""
    from minim.errors import MinimError

    chosen = [f for f in findings if f.fix is not None and (f.severity == "error" or warnings)]
    unmet = [f for f in chosen if f.code == "unsatisfied"]
    batches = [(f.fix, [f]) for f in chosen if f.code != "unsatisfied"]
    if unmet:
        batches.append((_merged_requirements(unmet, ctx), unmet))
    done, failed = [], []
    for fix, covered in batches:
        try:
            _apply(fix, covered[0], ctx, on_line)
        except MinimError as exc:
            failed.append(f"{covered[0].code}: {exc}")
            continue
        done += [f.fix_command or f.code for f in covered]
    return done, failed


def _apply(fix: Fix, finding: Finding, ctx: FixContext, on_line) -> None:
    from minim.packages.plan import plan_install

    plan = plan_install(fix.install, ctx.python) if fix.install is not None else None
    if fix.uninstall:
        _replace(finding, plan, ctx, on_line)
    elif plan is not None and (plan.changes() or not plan.resolved):
        _install(finding, plan, on_line)


def _install(finding: Finding, plan, on_line) -> None:
    from minim.errors import PackageError
    from minim.packages.install import execute_install

    outcome = execute_install(plan, on_line=on_line)
    if not outcome.ok:
        bad = [f"{v.name}: {v.problem()}" for v in outcome.verifications if not v.ok] + outcome.broken
        raise PackageError(f"fix for {finding.code} installed, but verification failed: {'; '.join(bad)}")


def _replace(finding: Finding, plan, ctx: FixContext, on_line) -> None:
    """Download the replacement, uninstall the shadowing distributions, install the downloaded files."""
    from minim.packages.replace import replace_distributions

    replace_distributions(finding.fix.uninstall, plan, ctx.python, on_line, prefetch=finding.fix.prefetch,
                          purpose=f"fixing {finding.code} ({finding.message})")


def exit_status(findings: list[Finding]) -> int:
    """1 when anything is broken (an error finding), else 0."""
    return 1 if any(f.severity == "error" for f in findings) else 0
