"""Build an install plan: what pip will be asked, from which indexes, and what it would change.

The plan is made before anything is installed: requests are validated, the torch family is kept
consistent (:mod:`minim.packages.torchplan`), mirrors are applied, every index is probed once, and
pip itself resolves the request with ``pip install --dry-run --report -`` so the table the user
confirms shows the versions pip will really install.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.env.model import Environment
from minim.env.probe import probe_environment, resolve_python
from minim.errors import PackageError
from minim.packages.compat import CompatData, load_compat, series_of
from minim.packages.impact import broken_dependents, import_conflicts, problems, snapshot
from minim.packages.indexes import (is_remote, pip_default_index, probe_indexes, report_not_found,
                                   report_unreachable)
from minim.packages.pip import PipResult, PipRunner
from minim.packages.specs import Requested, parse_editable, parse_request, read_requirements_file
from minim.packages.torchplan import TorchDecision, decide, validate_compute
from minim.packages.wheelbuild import cached_wheel_dirs

PYPI_SIMPLE = "https://pypi.org/simple"
DRY_RUN_TIMEOUT = 300.0


@dataclass
class InstallOptions:
    """Everything ``minim install`` accepts (see ``minim install --help``)."""

    specs: list[str] = field(default_factory=list)
    editables: list[str] = field(default_factory=list)
    requirement_files: list[str] = field(default_factory=list)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    compute: str = "auto"
    allow_build: bool = False
    mirror: str | None = None
    upgrade: bool = False
    force_reinstall: bool = False
    no_deps: bool = False
    pre: bool = False
    #: mmcv's compiled ops for OpenMMLab packages: True build/fetch them, False the lite build, None decide
    mmcv_ops: bool | None = None
    #: options handed to pip verbatim (what follows ``--`` on the command line)
    pip_args: list[str] = field(default_factory=list)


@dataclass
class PlanItem:
    """One row of the plan."""

    name: str
    #: 'install', 'upgrade', 'downgrade', 'reinstall' or 'keep' (already satisfied)
    action: str
    installed: str | None
    version: str | None
    source: str
    reason: str
    binary_only: bool = False


@dataclass
class InstallPlan:
    """A resolved, not yet executed install."""

    python: str
    pip_version: str | None
    items: list[PlanItem]
    pip_args: list[str]
    indexes: list[str]
    notes: list[str]
    #: True when pip's dry-run report gave the versions
    resolved: bool
    requests: list[str]
    #: what the plan breaks: installed packages whose requirements it no longer meets
    warnings: list[str] = field(default_factory=list)
    #: newly installed projects that overwrite files of installed ones (needs an explicit go-ahead)
    conflicts: list[str] = field(default_factory=list)
    #: ``{name: version}`` before the install, and ``pip check``'s findings then
    before: dict = field(default_factory=dict)
    problems_before: set = field(default_factory=set)
    #: wheels built from sdists before pip runs (mmcv without a published wheel), see minim.packages.mmcv
    builds: list = field(default_factory=list)
    #: OpenMMLab packages whose mim extra / mminstall.txt was read: verified after the install
    openmmlab: list[str] = field(default_factory=list)
    python_version: str | None = None
    #: the index options of the plan (for installing build tools)
    index_args: list[str] = field(default_factory=list)

    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if item.action != "keep"]

    def to_dict(self) -> dict:
        return {
            "python": self.python,
            "pip": self.pip_version,
            "requests": self.requests,
            "resolved_by_pip": self.resolved,
            "items": [asdict(item) for item in self.items],
            "pip_command": [self.python, "-m", "pip", "install", *self.pip_args],
            "indexes": self.indexes,
            "notes": self.notes,
            "warnings": self.warnings,
            "conflicts": self.conflicts,
            "builds": [step.to_dict() for step in self.builds],
            "openmmlab": self.openmmlab,
        }


def collect_requests(options: InstallOptions) -> list[Requested]:
    """Parse and validate every SPEC, ``-e`` and ``-r`` argument (UsageError on the first bad one)."""
    requests = [parse_request(spec) for spec in options.specs]
    requests += [parse_editable(path) for path in options.editables]
    for path in options.requirement_files:
        requests += read_requirements_file(path)
    if not requests:
        from minim.errors import UsageError

        raise UsageError("nothing to install", hint="give package specifiers, -e PATH or -r FILE")
    return requests


def _named(requests: list[Requested]) -> dict[str, Requested]:
    named = {}
    for request in requests:
        if request.key is not None:
            named.setdefault(request.key, request)
    return named


def _action(installed: str | None, version: str | None) -> str:
    if installed is None:
        return "install"
    if version is None:
        return "reinstall"
    try:
        old, new = Version(installed), Version(version)
    except InvalidVersion:
        return "reinstall"
    if new > old:
        return "upgrade"
    if new < old:
        return "downgrade"
    return "reinstall"


def _source(url: str | None, indexes: list[str]) -> str:
    """Which index (or host) a file comes from, for the plan table."""
    if not url:
        return "?"
    if url.startswith("file:"):
        return "local file"
    for index in sorted(indexes, key=len, reverse=True):
        base = index.rstrip("/")
        if base.endswith((".html", ".htm")):  # a find-links page: its files sit next to it
            base = base.rsplit("/", 1)[0]
        if url.startswith(base + "/") or url == base:
            return index
    host = urlsplit(url).netloc
    if host == "files.pythonhosted.org":
        return "PyPI"
    return f"{urlsplit(url).scheme}://{host}"


@dataclass
class _Sources:
    """Where pip will look: the main index, extra indexes and find-links locations (mirrors applied)."""

    main: str | None
    extra: list[str]
    find_links: list[str]
    mirrored_main: str | None = None
    #: True when the main index is pip's own default (then it is passed only if a mirror changed it)
    configured_default: bool = False

    def add_extra(self, url: str) -> None:
        if url != self.mirrored_main and url not in self.extra:
            self.extra.append(url)

    def pip_args(self) -> list[str]:
        args = []
        if not self.configured_default or self.mirrored_main != self.main:
            args += ["--index-url", self.mirrored_main]
        for url in self.extra:
            args += ["--extra-index-url", url]
        for location in self.find_links:
            args += ["--find-links", location]
        return args

    def indexes(self) -> list[str]:
        return [self.mirrored_main, *self.extra, *[f for f in self.find_links if is_remote(f)]]


def _check_reachable(sources: _Sources, probed: dict, project: str | None, backend_pages: list[str]) -> list[str]:
    """Every index pip will use must answer, and not with 404 (those probed early are not asked twice);
    returns notes for mmcv-style wheel pages that do not exist (no wheels were built for that torch)."""
    no_index = os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes")
    wanted = list(dict.fromkeys(([] if no_index else [sources.mirrored_main]) + sources.extra + sources.find_links))
    missing = [url for url in wanted if url not in probed]
    results = [probed[url] for url in wanted if url in probed] + (probe_indexes(missing) if missing else [])
    report_unreachable(results)
    missing_pages = [r.url for r in results if r.url in backend_pages and r.not_found]
    report_not_found([r for r in results if r.url not in backend_pages],
                     [f for f in sources.find_links if f not in backend_pages], project)
    return [f"{page} does not exist (HTTP 404): no wheels were published for this torch and build there"
            for page in missing_pages]


def _targets(requests: list[Requested], cli_count: int, decision: TorchDecision) -> list[str]:
    """The requirement arguments pip gets: the command-line SPECs (with minim's pins), then added pins."""
    cli = requests[:cli_count]
    targets = [decision.pins.get(r.key, r.text) if r.key else r.text for r in cli]
    cli_keys = {r.key for r in cli}
    targets += [pin for name, pin in decision.pins.items() if name not in cli_keys]  # companions, -r entries
    return targets + [hold for name, hold in decision.holds.items() if name not in cli_keys]


class Planner:
    """Turns :class:`InstallOptions` into an :class:`InstallPlan` for one target interpreter."""

    def __init__(self, options: InstallOptions, python: str | None = None, env: Environment | None = None,
                 compat: CompatData | None = None):
        self.options = options
        self.python = resolve_python(python) if env is None else env.python
        self.env = env
        self.compat = compat

    def plan(self, resolve: bool = True) -> InstallPlan:
        options = self.options
        requests = collect_requests(options)
        compat = self.compat or load_compat()
        validate_compute(options.compute, compat)
        from minim.net.mirror import resolve_mirrors

        mirrors = resolve_mirrors(options.mirror)
        named = _named(requests)

        sources = _Sources(main=options.index_url or pip_default_index(),
                           extra=[mirrors.apply(url) for url in options.extra_index_urls],
                           find_links=[mirrors.apply(url) if is_remote(url) else url for url in options.find_links])
        env, probed = self._gather(sources, mirrors)
        if env.pip_version is None:
            raise PackageError(f"pip is not installed in {env.python}", hint=f"{env.python} -m ensurepip --upgrade")
        decision = decide(named, env, compat, options.compute, options.index_url is not None, upgrade=options.upgrade,
                          no_deps=options.no_deps)
        if decision.needs_variant_index and decision.variant is not None:
            sources.add_extra(mirrors.apply(decision.variant.url))
        backend_pages = [mirrors.apply(url) for url in self._backend_find_links(named, env, compat, decision)]
        sources.find_links += backend_pages
        sources.find_links += [folder for key, request in named.items() if key in compat.mmcv_names()
                               for folder in cached_wheel_dirs(key, request.requirement.specifier)]
        decision.notes += _check_reachable(sources, probed, next(iter(named), None), backend_pages)

        runner = PipRunner(env.python, env.pip_version)
        targets = _targets(requests, len(options.specs), decision)
        args = runner.bounded() + sources.pip_args() + self._install_flags(compat) + targets + list(options.pip_args)
        plan = InstallPlan(python=env.python, pip_version=env.pip_version, items=[], pip_args=args,
                           indexes=sources.indexes(), notes=list(decision.notes), resolved=False,
                           requests=[r.text for r in requests], before=snapshot(env), problems_before=problems(env),
                           python_version=env.python_version, index_args=sources.pip_args())
        if resolve and runner.supports_report():
            result, report = runner.dry_run_report(args, timeout=DRY_RUN_TIMEOUT)
            if report is None:
                if not result.versions_offered():  # --quiet hid pip's explanation: ask for it once more
                    result = runner.run(["install", "--dry-run", *args], timeout=DRY_RUN_TIMEOUT)
                raise explain_failure(result, plan, compat, env, options.allow_build, stage="resolving")
            plan.items = self._items_from_report(report, named, decision, env, compat, plan.indexes)
            plan.resolved = True
            if not options.no_deps:
                self._openmmlab(plan, report, runner, named, decision, env, compat, sources, mirrors)
        else:
            if resolve:
                plan.notes.append(f"pip {env.pip_version} cannot report a dry run (22.2+ can): versions are pip's choice")
            plan.items = self._items_from_requests(requests, decision, env, compat, targets)
        self._assess(plan, env, compat)
        return plan

    def _openmmlab(self, plan: InstallPlan, report: dict, runner: PipRunner, named: dict[str, Requested],
                   decision: TorchDecision, env: Environment, compat: CompatData, sources: "_Sources", mirrors) -> None:
        """Add what OpenMMLab packages ask through their ``mim`` extra or ``mminstall.txt`` (mmcv resolved for
        the installed torch, see :mod:`minim.packages.mmcv`), and let pip resolve the whole once more."""
        from minim.packages.mmcv import TorchTarget, resolve
        from minim.packages.openmmlab import requirements_of

        indexes = [sources.mirrored_main, *sources.extra]
        planned = {canonicalize_name(e.get("metadata", {}).get("name", "")): e.get("metadata", {})
                   for e in report.get("install", [])}
        wanted = []
        for meta in planned.values():
            wanted += requirements_of(meta.get("name", "?"), meta.get("version", ""), meta.get("requires_dist") or [],
                                      env.markers, compat, indexes, plan.notes)
        for key in named:  # requested and already installed: what it asks may still be missing
            dist = env.get(key)
            if dist is not None and key not in planned:
                wanted += requirements_of(dist.name, dist.version, dist.requires, env.markers, compat, indexes,
                                          plan.notes)
        if not wanted:
            return
        plan.openmmlab = sorted({item.wanted_by for item in wanted})
        current = env.torch_build("torch")
        variant = decision.variant.name if decision.variant else (current.variant if current else None)
        torch = TorchTarget(decision.torch_version or env.version("torch"), variant)
        resolution = resolve(wanted, env, compat, torch, self.options.mmcv_ops, indexes, mirrors.apply)
        plan.notes += resolution.notes
        if resolution.empty:
            return
        links = [word for url in resolution.find_links for word in ("--find-links", url)]
        plan.indexes += [url for url in resolution.find_links if is_remote(url)]
        dry_args = plan.pip_args + links + resolution.targets
        plan.pip_args = dry_args + resolution.pending
        plan.builds = resolution.builds
        decision.reasons.update(resolution.reasons)
        result, report = runner.dry_run_report(dry_args, timeout=DRY_RUN_TIMEOUT)
        if report is None:
            raise explain_failure(result, plan, compat, env, self.options.allow_build, stage="resolving")
        plan.items = self._items_from_report(report, named, decision, env, compat, plan.indexes)
        for step in resolution.builds:
            if step.cached_wheel() is None:
                installed = env.version(step.dist)
                plan.items.append(PlanItem(name=step.dist, action=_action(installed, step.version),
                                           installed=installed, version=step.version, source="its sdist, built here",
                                           reason=resolution.reasons.get(canonicalize_name(step.dist), "")))
        if resolution.pending:
            built = "; ".join(step.describe() for step in resolution.builds if step.cached_wheel() is None)
            plan.notes.append(f"{', '.join(resolution.pending)}: built before pip runs ({built}); pip resolves "
                              "its own dependencies then")

    @staticmethod
    def _assess(plan: InstallPlan, env: Environment, compat: CompatData) -> None:
        """The plan's warnings (dependents it breaks) and conflicts (files it overwrites)."""
        if plan.resolved:
            plan.warnings = broken_dependents({i.name: i.version for i in plan.changes()}, env)
        plan.conflicts = import_conflicts([i.name for i in plan.changes() if i.installed is None and "/" not in i.name],
                                          env, compat)

    def _gather(self, sources: "_Sources", mirrors) -> tuple[Environment, dict]:
        """The environment probe, pip's configured index and the indexes named on the command line,
        asked in parallel (each is a subprocess or a network round trip)."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            pending_env = pool.submit(probe_environment, self.python) if self.env is None else None
            pending_config = pool.submit(PipRunner(self.python).config_index) if sources.main is None else None
            early = ([mirrors.apply(sources.main)] if sources.main else []) + sources.extra + sources.find_links
            pending_probe = pool.submit(probe_indexes, early)
            env = self.env or pending_env.result()
            if pending_config is not None:
                sources.configured_default = True
                sources.main = pending_config.result() or PYPI_SIMPLE
            sources.mirrored_main = mirrors.apply(sources.main)
            return env, {r.url: r for r in pending_probe.result()}

    def _install_flags(self, compat: CompatData) -> list[str]:
        options = self.options
        flags = [] if options.allow_build else ["--only-binary", ",".join(compat.backend_names())]
        flags += [flag for flag, on in (("--upgrade", options.upgrade), ("--force-reinstall", options.force_reinstall),
                                        ("--no-deps", options.no_deps), ("--pre", options.pre)) if on]
        for path in options.requirement_files:
            flags += ["-r", path]
        for path in options.editables:
            flags += ["-e", path]
        return flags

    def _backend_find_links(self, named: dict[str, Requested], env: Environment, compat: CompatData,
                            decision: TorchDecision) -> list[str]:
        """mim's per-torch wheel pages for mmcv-style backends that are being installed."""
        links = []
        for name in named:
            backend = compat.backends.get(name, {})
            template = backend.get("find_links")
            if not template or cached_wheel_dirs(name, named[name].requirement.specifier):
                continue  # an mmcv minim built (lite, or for this torch) is reinstalled from MINIM_HOME/wheels
            torch_version = decision.torch_version or env.version("torch")
            build = decision.variant.name if decision.variant else None
            if build is None:
                current = env.torch_build("torch")
                build = current.variant if current is not None else None
            if torch_version is None or build is None:
                raise PackageError(
                    f"{name} wheels are built for one torch version and compute build, and torch is "
                    + ("not installed" if torch_version is None else "of an unknown build"),
                    hint=f"install torch first (minim install torch), or name both: minim install torch {name}")
            links.append(template.format(variant=build, torch_series=series_of(torch_version)))
        return links

    def _items_from_report(self, report: dict, named: dict[str, Requested], decision: TorchDecision,
                           env: Environment, compat: CompatData, indexes: list[str]) -> list[PlanItem]:
        items = []
        seen = set()
        for entry in report.get("install", []):
            meta = entry.get("metadata", {})
            name = meta.get("name", "?")
            key = canonicalize_name(name)
            seen.add(key)
            installed = env.version(name)
            version = meta.get("version")
            if key in decision.reasons:
                reason = decision.reasons[key]
            elif entry.get("requested"):
                reason = "requested"
            else:
                reason = "dependency"
            items.append(PlanItem(name=name, action=_action(installed, version), installed=installed,
                                  version=version, source=_source((entry.get("download_info") or {}).get("url"),
                                                                  indexes),
                                  reason=reason, binary_only=compat.is_backend(name) and not self.options.allow_build))
        for key, request in named.items():
            if key not in seen:
                installed = env.version(key)
                items.append(PlanItem(name=request.requirement.name, action="keep", installed=installed,
                                      version=installed, source="installed", reason="already satisfied"))
        return items

    def _items_from_requests(self, requests: list[Requested], decision: TorchDecision, env: Environment,
                             compat: CompatData, targets: list[str]) -> list[PlanItem]:
        items = []
        for request in requests:
            name = request.requirement.name if request.requirement is not None else request.text
            installed = env.version(name) if request.key else None
            pin = decision.pins.get(request.key or "", request.text)
            items.append(PlanItem(name=name, action="install" if installed is None else "change",
                                  installed=installed, version=pin, source="pip's choice",
                                  reason=decision.reasons.get(request.key or "", "requested"),
                                  binary_only=bool(request.key) and compat.is_backend(name)))
        for key, pin in decision.pins.items():
            if all(request.key != key for request in requests):
                items.append(PlanItem(name=key, action="install" if env.get(key) is None else "change",
                                      installed=env.version(key), version=pin, source="pip's choice",
                                      reason=decision.reasons.get(key, ""), binary_only=True))
        return items


def plan_install(options: InstallOptions, python: str | None = None, *, env: Environment | None = None,
                 compat: CompatData | None = None, resolve: bool = True) -> InstallPlan:
    """Validate ``options``, probe the environment and indexes, and let pip resolve a dry run."""
    return Planner(options, python, env, compat).plan(resolve=resolve)


def explain_failure(result: PipResult, plan: InstallPlan, compat: CompatData, env: Environment,
                    allow_build: bool, stage: str) -> PackageError:
    """A PackageError with pip's own error, and what to do when no binary wheel fits."""
    errors = result.error_lines()
    offered = result.versions_offered()
    for requirement, versions in offered.items():
        name = canonicalize_name(_requirement_name(requirement))
        if compat.is_backend(name) and not allow_build:
            platform = f"Python {env.python_version}, {env.platform}"
            torch = env.version("torch")
            if torch:
                build = env.torch_build("torch")
                platform += f", torch {torch} ({build.describe() if build else '?'})"
            have = ", ".join(versions[-8:]) if versions else "none"
            # pip cannot tell "the index lacks that release" from "no wheel for this platform": say both
            return PackageError(
                f"no binary wheel of {requirement} on {', '.join(plan.indexes)} fits this environment "
                f"({platform}); versions with a fitting wheel there: {have}",
                hint="that index may not carry the release (yet): try another index or --mirror, pick a version "
                     "listed, or pass --allow-build to build from source (slow; minim installs compiled backends "
                     "from wheels only)")
    detail = " | ".join(line.removeprefix("ERROR: ") for line in errors[:4]) or f"exit status {result.returncode}"
    return PackageError(f"pip failed while {stage} (exit {result.returncode}): {detail}",
                        hint=_misspelt_name_hint(offered, compat, env))


def _requirement_name(requirement: str) -> str:
    """``torchvision`` of ``torchvision==0.29.1`` (or ``>=``, ``[extra]``, a marker, ...), as written."""
    return re.split(r"[\[<>=!~;@ ]", requirement.strip(), maxsplit=1)[0]


def _misspelt_name_hint(offered: dict[str, list[str]], compat: CompatData, env: Environment) -> str | None:
    """"did you mean 'torchvision'?" for a requirement that no index has any version of, when its name is
    close to a backend minim knows or to an installed distribution."""
    from minim.suggest import close_matches

    known = {*compat.backend_names(), *(dist.name for dist in env.dists.values())}
    for requirement, versions in offered.items():
        name = _requirement_name(requirement)
        if versions or canonicalize_name(name) in {canonicalize_name(k) for k in known}:
            continue
        matches = close_matches(name, known, n=2, cutoff=0.8)
        if matches:
            return f"no index has {name!r}: did you mean " + " or ".join(repr(m) for m in matches) + "?"
    return None
