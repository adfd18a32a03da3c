"""Build an install plan: what pip will be asked, from which indexes, and what it would change.

The plan is made before anything is installed: requests are validated, the torch family is kept
consistent (:mod:`minim.packages.torchplan`), mirrors are applied, every index is probed once, and
pip itself resolves the request with ``pip install --dry-run --report -`` so the table the user
confirms shows the versions pip will really install.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from urllib.parse import urlsplit

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.env.model import Environment
from minim.env.probe import probe_environment, resolve_python
from minim.errors import PackageError
from minim.packages.compat import CompatData, load_compat, public, series_of
from minim.packages.indexes import is_remote, mirror_map, pip_default_index, probe_indexes, report_unreachable
from minim.packages.pip import PipResult, PipRunner
from minim.packages.specs import Requested, parse_editable, parse_request, read_requirements_file
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

    def changes(self) -> list[PlanItem]:
        return [item for item in self.items if item.action != "keep"]

    def to_dict(self) -> dict:
        return {
            "python": self.python,
            "pip": self.pip_version,
            "resolved_by_pip": self.resolved,
            "items": [asdict(item) for item in self.items],
            "pip_command": [self.python, "-m", "pip", "install", *self.pip_args],
            "indexes": self.indexes,
            "notes": self.notes,
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
        if url.startswith(base + "/") or url == base:
            return index
    host = urlsplit(url).netloc
    if host == "files.pythonhosted.org":
        return "PyPI"
    return f"{urlsplit(url).scheme}://{host}"


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
        mirrors = mirror_map(options.mirror)
        named = _named(requests)
        explicit_index = options.index_url is not None

        # the environment probe, pip's configured index and the indexes named on the command line
        # are asked in parallel: each is a subprocess or a network round trip
        main_index = options.index_url or pip_default_index()
        configured_default = main_index is None
        extra = [mirrors.apply(url) for url in options.extra_index_urls]
        find_links = [mirrors.apply(url) if is_remote(url) else url for url in options.find_links]
        with ThreadPoolExecutor(max_workers=3) as pool:
            pending_env = pool.submit(probe_environment, self.python) if self.env is None else None
            pending_config = pool.submit(PipRunner(self.python).config_index) if configured_default else None
            early = ([mirrors.apply(main_index)] if main_index else []) + extra + find_links
            pending_probe = pool.submit(probe_indexes, early)
            env = self.env or pending_env.result()
            if configured_default:
                main_index = pending_config.result() or PYPI_SIMPLE
            probed = {r.url: r for r in pending_probe.result()}
        runner = PipRunner(env.python, env.pip_version)
        if env.pip_version is None:
            raise PackageError(f"pip is not installed in {env.python}",
                               hint=f"{env.python} -m ensurepip --upgrade")
        decision = decide(named, env, compat, options.compute, explicit_index, upgrade=options.upgrade)

        mirrored_main = mirrors.apply(main_index)
        pass_main = not configured_default or mirrored_main != main_index
        variant_index = None
        if decision.needs_variant_index and decision.variant is not None:
            variant_index = mirrors.apply(decision.variant.url)
            if variant_index != mirrored_main and variant_index not in extra:
                extra.append(variant_index)
        find_links += [mirrors.apply(url) for url in self._backend_find_links(named, env, compat, decision)]

        args = runner.bounded()
        if pass_main:
            args += ["--index-url", mirrored_main]
        for url in extra:
            args += ["--extra-index-url", url]
        for location in find_links:
            args += ["--find-links", location]
        binary_only = compat.backend_names()
        if not options.allow_build:
            args += ["--only-binary", ",".join(binary_only)]
        args += [flag for flag, on in (("--upgrade", options.upgrade), ("--force-reinstall", options.force_reinstall),
                                       ("--no-deps", options.no_deps), ("--pre", options.pre)) if on]
        for path in options.requirement_files:
            args += ["-r", path]
        for path in options.editables:
            args += ["-e", path]
        targets = []
        for request in requests[:len(options.specs)]:  # the command-line SPECs come first
            targets.append(decision.pins.get(request.key, request.text) if request.key else request.text)
        cli_keys = {request.key for request in requests[:len(options.specs)]}
        for name, pin in decision.pins.items():
            if name not in cli_keys:  # companions minim adds, and pins for -r file entries
                targets.append(pin)
        args += targets
        args += list(options.pip_args)

        probe_targets = ([mirrored_main] if os.environ.get("PIP_NO_INDEX", "").lower() not in ("1", "true", "yes")
                         else []) + extra + find_links
        results = [probed.get(url) for url in dict.fromkeys(probe_targets)]
        missing = [url for url, r in zip(dict.fromkeys(probe_targets), results) if r is None]
        report_unreachable([r for r in results if r is not None] + (probe_indexes(missing) if missing else []))

        indexes = [mirrored_main, *extra, *[f for f in find_links if is_remote(f)]]
        plan = InstallPlan(python=env.python, pip_version=env.pip_version, items=[], pip_args=args,
                           indexes=indexes, notes=list(decision.notes), resolved=False,
                           requests=[r.text for r in requests])
        if resolve and runner.supports_report():
            result, report = runner.dry_run_report(args, timeout=DRY_RUN_TIMEOUT)
            if report is None:
                raise explain_failure(result, plan, compat, env, options.allow_build, stage="resolving")
            plan.items = self._items_from_report(report, named, decision, env, compat, indexes)
            plan.resolved = True
        else:
            if resolve:
                plan.notes.append(f"pip {env.pip_version} cannot report a dry run (22.2+ can): versions are pip's choice")
            plan.items = self._items_from_requests(requests, decision, env, compat, targets)
        return plan

    def _backend_find_links(self, named: dict[str, Requested], env: Environment, compat: CompatData,
                            decision: TorchDecision) -> list[str]:
        """mim's per-torch wheel pages for mmcv-style backends that are being installed."""
        links = []
        for name in named:
            backend = compat.backends.get(name, {})
            template = backend.get("find_links")
            if not template:
                continue
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
        name = canonicalize_name(requirement.split("==")[0].split(">")[0].split("<")[0].split("!")[0]
                                 .split("~")[0].split("[")[0])
        if compat.is_backend(name) and not allow_build:
            platform = f"Python {env.python_version}, {env.platform}"
            torch = env.version("torch")
            if torch:
                build = env.torch_build("torch")
                platform += f", torch {torch} ({build.describe() if build else '?'})"
            have = ", ".join(versions[-8:]) if versions else "none"
            return PackageError(
                f"no binary wheel of {requirement} fits this environment ({platform}); "
                f"versions with a wheel here: {have}",
                hint="minim installs compiled backends from wheels only; pass --allow-build to build from "
                     "source (slow), or pick a version listed")
    detail = " | ".join(line.removeprefix("ERROR: ") for line in errors[:4]) or f"exit status {result.returncode}"
    return PackageError(f"pip failed while {stage} (exit {result.returncode}): {detail}")
