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
from dataclasses import asdict, dataclass, field, replace
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.env.model import Environment
from minim.env.probe import probe_environment, resolve_python
from minim.errors import PackageError
from minim.packages.compat import CompatData, load_compat
from minim.packages.impact import broken_dependents, import_conflicts, problems, snapshot
from minim.packages.indexes import (is_remote, pip_default_index, probe_indexes, report_not_found,
                                   report_unreachable)
from minim.packages.openmmlab import requested
from minim.packages.pip import PipResult, PipRunner
from minim.packages.specs import (PipWords, Requested, parse_editable, parse_request, read_pip_words,
                                  read_requirements_file)
from minim.packages.torchplan import TorchDecision, decide, validate_compute

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
    #: pip's own options, passed on as such (``--no-index`` also stops every index probe)
    no_index: bool = False
    constraints: list[str] = field(default_factory=list)
    trusted_hosts: list[str] = field(default_factory=list)
    no_build_isolation: bool = False
    only_binary: list[str] = field(default_factory=list)
    prefer_binary: bool = False
    user: bool = False
    target: str | None = None
    #: pip's ``-v`` count (positive) or ``-q`` count (negative), for the install itself
    verbosity: int = 0


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
    #: ``-v``/``-q`` words for the install call (pip's dry runs stay quiet)
    verbosity_args: list[str] = field(default_factory=list)
    #: ``pip install --target DIR``: nothing lands on the interpreter's path, so nothing is verified there
    target: str | None = None
    allow_build: bool = False

    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if item.action != "keep"]

    def to_dict(self) -> dict:
        return {
            "python": self.python,
            "pip": self.pip_version,
            "requests": self.requests,
            "resolved_by_pip": self.resolved,
            "items": [asdict(item) for item in self.items],
            "pip_command": [self.python, "-m", "pip", "install", *self.verbosity_args, *self.pip_args],
            "indexes": self.indexes,
            "notes": self.notes,
            "warnings": self.warnings,
            "conflicts": self.conflicts,
            "builds": [step.to_dict() for step in self.builds],
            "openmmlab": self.openmmlab,
        }


def collect_requests(options: InstallOptions, words: PipWords | None = None) -> list[Requested]:
    """Parse and validate every SPEC, ``-e`` and ``-r`` argument, then the requirements, ``-e`` and ``-r`` among
    the words after ``--`` (pip gets those as given): UsageError on the first bad one."""
    from minim.errors import UsageError

    words = words or read_pip_words(options.pip_args)
    requests = [parse_request(spec) for spec in options.specs]
    requests += [parse_request(spec, "after '--'") for spec in words.specs]
    requests += [parse_editable(path) for path in [*options.editables, *words.editables]]
    for path in [*options.requirement_files, *words.requirement_files]:
        requests += read_requirements_file(path)
    if not requests:
        raise UsageError("nothing to install", hint="give package specifiers, -e PATH or -r FILE")
    for path in options.constraints:
        if not os.path.isfile(os.path.expanduser(path)):
            raise UsageError(f"-c {path}: no such file")
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
    """Where pip will look: the main index, extra indexes and find-links locations (mirrors applied), and where
    each URL came from (for the messages about an unreachable one)."""

    main: str | None
    extra: list[str]
    find_links: list[str]
    mirrored_main: str | None = None
    #: True when the main index is pip's own default (then it is passed only if a mirror changed it)
    configured_default: bool = False
    #: --no-index (or PIP_NO_INDEX): pip reads find-links only, and no index is probed or passed
    no_index: bool = False
    #: locations pip gets verbatim after '--': probed and named, never passed a second time
    verbatim: list[str] = field(default_factory=list)
    #: --no-index came after '--' (pip gets it there)
    verbatim_no_index: bool = False
    #: URL -> where it came from ("PIP_INDEX_URL", "--index-url", ...)
    origins: dict = field(default_factory=dict)

    def add_extra(self, url: str, origin: str) -> None:
        if url != self.mirrored_main and url not in self.extra:
            self.extra.append(url)
            self.origins.setdefault(url, origin)

    def pip_args(self, with_verbatim: bool = False) -> list[str]:
        """The index options pip gets before the words after '--' (``with_verbatim``: those too, for a pip call
        of minim's own that has no '--' words)."""
        def own(location) -> bool:
            return with_verbatim or location not in self.verbatim

        if self.no_index:
            args = ["--no-index"] if with_verbatim or not self.verbatim_no_index else []
        elif own(self.mirrored_main) and (not self.configured_default or self.mirrored_main != self.main):
            args = ["--index-url", self.mirrored_main]
        else:
            args = []
        for url in [] if self.no_index else self.extra:
            args += ["--extra-index-url", url] if own(url) else []
        for location in self.find_links:
            args += ["--find-links", location] if own(location) else []
        return args

    def package_indexes(self) -> list[str]:
        """The PEP 503 indexes pip reads (none under --no-index)."""
        return [] if self.no_index else [self.mirrored_main, *self.extra]

    def indexes(self) -> list[str]:
        return [*self.package_indexes(), *[f for f in self.find_links if is_remote(f)]]


def _origin_of_main(options: InstallOptions, words: PipWords) -> tuple[str | None, str]:
    """The main index given on the command line or by ``PIP_INDEX_URL``, and where it came from."""
    if options.index_url:
        return options.index_url, "--index-url"
    if words.index_url:
        return words.index_url, "--index-url after '--'"
    if pip_default_index():
        return pip_default_index(), "PIP_INDEX_URL"
    return None, ""


def _check_reachable(sources: _Sources, probed: dict, project: str | None) -> None:
    """Every index pip will use must answer, and not with 404 (those probed early are not asked twice)."""
    wanted = list(dict.fromkeys(sources.package_indexes() + sources.find_links))
    missing = [url for url in wanted if url not in probed]
    results = [probed[url] for url in wanted if url in probed] + (probe_indexes(missing) if missing else [])
    report_unreachable(results, sources.origins)
    report_not_found(results, sources.find_links, project)


def _mirrored(url: str, original: str, verbatim: bool = False) -> str:
    """", mirrored from ORIGINAL by --mirror / MINIM_MIRROR" when a mirror rewrote the URL."""
    return "" if verbatim or url == original else f", mirrored from {original} by --mirror / MINIM_MIRROR"


def _verbosity(count: int) -> list[str]:
    """pip's ``-vv`` / ``-qq`` words for a ``-v`` (positive) / ``-q`` (negative) count."""
    return ["-" + ("v" if count > 0 else "q") * abs(count)] if count else []


def _targets(requests: list[Requested], cli_count: int, decision: TorchDecision, rerouted: set) -> list[str]:
    """The requirement arguments pip gets: the command-line SPECs (with minim's pins; mmcv's, in ``rerouted``,
    are added by the mmcv resolver instead), then added pins."""
    cli = requests[:cli_count]
    targets = [decision.pins.get(r.key, r.text) if r.key else r.text for r in cli if r.key not in rerouted]
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
        words = read_pip_words(options.pip_args)
        requests = collect_requests(options, words)
        compat = self.compat or load_compat()
        validate_compute(options.compute, compat)
        from minim.net.mirror import resolve_mirrors

        mirrors = resolve_mirrors(options.mirror)
        named = _named(requests)
        sources = self._sources(options, words, mirrors)
        env, probed = self._gather(sources, mirrors)
        if env.pip_version is None:
            raise PackageError(f"pip is not installed in {env.python}", hint=f"{env.python} -m ensurepip --upgrade")
        if options.target:
            env = replace(env, dists={})  # pip installs into the folder everything it lacks
        decision = decide(named, env, compat, options.compute, options.index_url is not None, upgrade=options.upgrade,
                          no_deps=options.no_deps)
        if decision.needs_variant_index and decision.variant is not None and not sources.no_index:
            url = mirrors.apply(decision.variant.url)
            sources.add_extra(url, f"PyTorch's index for the {decision.variant.name} build of torch "
                                   f"{decision.torch_version or ''}".rstrip() + _mirrored(url, decision.variant.url))
        _check_reachable(sources, probed, next(iter(named), None))

        runner = PipRunner(env.python, env.pip_version)
        resolving = resolve and runner.supports_report()  # pip's dry run gives the versions
        # mmcv named on the command line goes through the mmcv resolver (it needs pip's dry run)
        rerouted = {r.key for r in requests[:len(options.specs)] if resolving and r.key in compat.mmcv_names()}
        targets = _targets(requests, len(options.specs), decision, rerouted)
        args = runner.bounded() + sources.pip_args() + self._install_flags(compat) + targets + list(options.pip_args)
        plan = InstallPlan(python=env.python, pip_version=env.pip_version, items=[], pip_args=args,
                           indexes=sources.indexes(), notes=list(decision.notes), resolved=False,
                           requests=[r.text for r in requests], before=snapshot(env), problems_before=problems(env),
                           python_version=env.python_version, index_args=sources.pip_args(with_verbatim=True),
                           verbosity_args=_verbosity(options.verbosity), target=options.target,
                           allow_build=options.allow_build)
        if options.target:
            plan.notes.append(f"--target {options.target}: installed there, not into {env.python}'s environment; "
                              "not verified by importing (the folder is not on its path)")
        asks = len(requests) > len(rerouted)  # pip has something to resolve before the mmcv resolver adds its part
        if resolving:
            report = {"install": []}
            if asks:
                result, report = runner.dry_run_report(args, timeout=DRY_RUN_TIMEOUT)
                if report is None:
                    if not result.versions_offered():  # --quiet hid pip's explanation: ask for it once more
                        result = runner.run(["install", "--dry-run", *args], timeout=DRY_RUN_TIMEOUT)
                    raise explain_failure(result, plan, compat, env, options.allow_build, stage="resolving")
            plan.items = self._items_from_report(report, named, decision, env, compat, plan.indexes)
            plan.resolved = True
            explicit = [requested(r.text) for r in requests[:len(options.specs)] if r.key in rerouted]
            self._openmmlab(plan, report, runner, named, decision, env, compat, sources, mirrors, explicit, asks)
        else:
            if resolve:
                plan.notes.append(f"pip {env.pip_version} cannot report a dry run (22.2+ can): versions are pip's choice")
            plan.items = self._items_from_requests(requests, decision, env, compat, targets)
        self._assess(plan, env, compat)
        return plan

    def _sources(self, options: InstallOptions, words: PipWords, mirrors) -> _Sources:
        """The indexes and find-links locations of the request, each with its origin (mirrors applied, except to
        what pip gets verbatim after ``--``)."""
        main, origin = _origin_of_main(options, words)
        verbatim = [words.index_url] if words.index_url and not options.index_url else []
        verbatim += words.extra_index_urls + words.find_links
        no_index = options.no_index or words.no_index or \
            os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes")
        sources = _Sources(main=main, extra=[], find_links=[], no_index=no_index, verbatim=verbatim,
                           verbatim_no_index=words.no_index and not options.no_index)
        if main:
            sources.origins[main if main in verbatim else mirrors.apply(main)] = origin + _mirrored(
                mirrors.apply(main), main, main in verbatim)
        for url in options.extra_index_urls:
            sources.add_extra(mirrors.apply(url), "--extra-index-url" + _mirrored(mirrors.apply(url), url))
        for url in words.extra_index_urls:
            sources.add_extra(url, "--extra-index-url after '--'")
        for location in options.find_links:
            link = mirrors.apply(location) if is_remote(location) else location
            sources.find_links.append(link)
            sources.origins.setdefault(link, "--find-links" + _mirrored(link, location))
        for location in words.find_links:
            sources.find_links.append(location)
            sources.origins.setdefault(location, "--find-links after '--'")
        return sources

    def _openmmlab(self, plan: InstallPlan, report: dict, runner: PipRunner, named: dict[str, Requested],
                   decision: TorchDecision, env: Environment, compat: CompatData, sources: "_Sources", mirrors,
                   explicit: list, asks: bool) -> None:
        """Resolve mmcv named on the command line (``explicit``) and add what OpenMMLab packages ask through
        their ``mim`` extra or ``mminstall.txt`` (mmcv resolved for the installed torch, see
        :mod:`minim.packages.mmcv`); then let pip resolve the whole once more."""
        from minim.packages.mmcv import TorchTarget, resolve
        from minim.packages.openmmlab import requirements_of

        indexes = sources.package_indexes()
        wanted = list(explicit)
        if not self.options.no_deps:
            planned = {canonicalize_name(e.get("metadata", {}).get("name", "")): e.get("metadata", {})
                       for e in report.get("install", [])}
            for meta in planned.values():
                wanted += requirements_of(meta.get("name", "?"), meta.get("version", ""),
                                          meta.get("requires_dist") or [], env.markers, compat, indexes, plan.notes)
            for key in named:  # requested and already installed: what it asks may still be missing
                dist = env.get(key)
                if dist is not None and key not in planned:
                    wanted += requirements_of(dist.name, dist.version, dist.requires, env.markers, compat, indexes,
                                              plan.notes)
        if not wanted:
            return
        plan.openmmlab = sorted({item.wanted_by for item in wanted if not item.requested})
        current = env.torch_build("torch")
        variant = decision.variant.name if decision.variant else (current.variant if current else None)
        torch = TorchTarget(decision.torch_version or env.version("torch"), variant)
        resolution = resolve(wanted, env, compat, torch, self.options.mmcv_ops, indexes,
                             mirrors.apply, look_up_pages=not sources.no_index,
                             reinstall=self.options.force_reinstall, with_runtime=not self.options.no_deps)
        plan.notes += resolution.notes
        if resolution.empty:
            return
        links = [word for url in resolution.find_links for word in ("--find-links", url)]
        plan.indexes += [url for url in resolution.find_links if is_remote(url)]
        dry_args = plan.pip_args + links + resolution.targets
        plan.pip_args = dry_args + resolution.pending
        plan.builds = resolution.builds
        decision.reasons.update(resolution.reasons)
        if asks or resolution.targets:
            result, report = runner.dry_run_report(dry_args, timeout=DRY_RUN_TIMEOUT)
            if report is None:
                raise explain_failure(result, plan, compat, env, self.options.allow_build, stage="resolving")
            plan.items = self._items_from_report(report, named, decision, env, compat, plan.indexes)
        building = {canonicalize_name(step.dist) for step in resolution.builds if step.cached_wheel() is None}
        plan.items = [item for item in plan.items if not (item.action == "keep"
                                                           and canonicalize_name(item.name) in building)]
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
        if plan.target:
            return  # nothing changes in the environment itself
        if plan.resolved:
            plan.warnings = broken_dependents({i.name: i.version for i in plan.changes()}, env)
        plan.conflicts = import_conflicts([i.name for i in plan.changes() if i.installed is None and "/" not in i.name],
                                          env, compat)

    def _gather(self, sources: "_Sources", mirrors) -> tuple[Environment, dict]:
        """The environment probe, pip's configured index and the indexes named on the command line,
        asked in parallel (each is a subprocess or a network round trip). Under --no-index only
        find-links locations are looked at."""
        with ThreadPoolExecutor(max_workers=3) as pool:
            pending_env = pool.submit(probe_environment, self.python) if self.env is None else None
            ask_config = sources.main is None and not sources.no_index
            pending_config = pool.submit(PipRunner(self.python).config_index) if ask_config else None
            main = [sources.main if sources.main in sources.verbatim else mirrors.apply(sources.main)] \
                if sources.main and not sources.no_index else []
            early = main + sources.package_indexes()[1:] + sources.find_links
            pending_probe = pool.submit(probe_indexes, early)
            env = self.env or pending_env.result()
            if pending_config is not None:
                sources.configured_default = True
                configured = pending_config.result()
                sources.main = configured[0] if configured else PYPI_SIMPLE
                origin = (f"pip's configuration ({configured[1]} in pip config list)" if configured
                          else "pip's default index")
                sources.origins[mirrors.apply(sources.main)] = origin + _mirrored(mirrors.apply(sources.main),
                                                                                  sources.main)
            if sources.main is not None:
                sources.mirrored_main = sources.main if sources.main in sources.verbatim \
                    else mirrors.apply(sources.main)
            return env, {r.url: r for r in pending_probe.result()}

    def _install_flags(self, compat: CompatData) -> list[str]:
        options = self.options
        flags = [] if options.allow_build else ["--only-binary", ",".join(compat.backend_names())]
        flags += [word for value in options.only_binary for word in ("--only-binary", value)]
        flags += [flag for flag, on in (("--upgrade", options.upgrade), ("--force-reinstall", options.force_reinstall),
                                        ("--no-deps", options.no_deps), ("--pre", options.pre),
                                        ("--prefer-binary", options.prefer_binary),
                                        ("--no-build-isolation", options.no_build_isolation),
                                        ("--user", options.user)) if on]
        flags += ["--target", options.target] if options.target else []
        flags += [word for host in options.trusted_hosts for word in ("--trusted-host", host)]
        flags += [word for path in options.constraints for word in ("-c", path)]
        for path in options.requirement_files:
            flags += ["-r", path]
        for path in options.editables:
            flags += ["-e", path]
        return flags

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
