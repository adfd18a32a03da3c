"""``minim uninstall``: a plan that names what else needs each package (or shares its files), then ``pip uninstall``."""

from __future__ import annotations

import json
import shlex
from dataclasses import asdict, dataclass, field
from typing import Callable

from packaging.utils import canonicalize_name

from minim.env.model import Environment
from minim.env.probe import probe_environment, run_in_target
from minim.errors import PackageError, UsageError
from minim.packages.pip import PipRunner
from minim.packages.requirements import reverse_dependencies
from minim.suggest import did_you_mean


@dataclass
class UninstallItem:
    name: str
    version: str
    location: str | None
    #: installed distributions that require this one (and are not being removed)
    required_by: list[str] = field(default_factory=list)
    #: installed distributions (not being removed) -> files they share with this one (pip deletes them)
    shares_files: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class UninstallPlan:
    python: str
    pip_version: str | None
    items: list[UninstallItem]
    #: ``{name: version}`` of the distributions that lose shared files
    damaged: dict[str, str] = field(default_factory=dict)
    #: names that are not installed, each with why (skipped, as pip does)
    missing: list[str] = field(default_factory=list)
    #: pip's own options for ``pip uninstall`` (``-q``, ``-v``)
    pip_options: list[str] = field(default_factory=list)

    @property
    def warnings(self) -> list[str]:
        found = list(self.missing) + [f"{item.name} is required by {', '.join(item.required_by)}: they will break"
                 for item in self.items if item.required_by]
        for item in self.items:
            for other, paths in item.shares_files.items():
                more = f" (and {len(paths) - 1} more)" if len(paths) > 1 else ""
                found.append(f"{paths[0]}{more} also belong{'s' if len(paths) == 1 else ''} to {other}; "
                             f"removing {item.name} breaks it (reinstall it afterwards: {self.repair_command()})")
        return found

    def repair_command(self) -> str | None:
        """The command that puts back the shared files the uninstall deletes, or None."""
        if not self.damaged:
            return None
        return shlex.join(["minim", "install", "--force-reinstall", "--no-deps",
                           *[f"{n}=={v}" for n, v in self.damaged.items()], "-y", "--python", self.python])

    def repair_options(self, index_url: str | None = None, extra_index_urls: list[str] = (),
                       find_links: list[str] = ()):
        """The install that gives the distributions losing shared files their files back (None: none lose any)."""
        from minim.packages.plan import InstallOptions

        if not self.damaged:
            return None
        return InstallOptions(specs=[f"{n}=={v}" for n, v in self.damaged.items()], force_reinstall=True,
                              no_deps=True, index_url=index_url, extra_index_urls=list(extra_index_urls),
                              find_links=list(find_links))

    def to_dict(self) -> dict:
        return {"python": self.python, "items": [asdict(i) for i in self.items], "warnings": self.warnings,
                "missing": self.missing, "repair": self.repair_command()}


def _broken_metadata_error(name: str, env: Environment) -> PackageError | None:
    for broken in env.broken_metadata:
        if broken.name and canonicalize_name(broken.name) == canonicalize_name(name):
            return PackageError(f"{name}'s metadata is broken: {broken.path}: {broken.problem}",
                                hint=f"pip cannot uninstall it; remove that folder: {shlex.join(['rm', '-r', broken.path])}")
    return None


def plan_uninstall(names: list[str], python: str | None = None, env: Environment | None = None,
                   allow_pip: bool = False, strict: bool = True) -> UninstallPlan:
    """Find who still requires each name or shares its files. A name that is not installed is an error with
    ``strict`` (did-you-mean), else skipped with a warning in :attr:`UninstallPlan.missing` (pip's behaviour)."""
    if not names:
        raise UsageError("nothing to uninstall", hint="give one or more package names")
    keys = {canonicalize_name(n) for n in names}
    if "pip" in keys and not allow_pip:
        raise UsageError("refusing to uninstall pip: minim needs it in the target to install or repair anything",
                         hint="pass --allow-pip to remove it anyway")
    env = env or probe_environment(python, gpu=False)
    items, missing = [], []
    for name in dict.fromkeys(names):
        dist = env.get(name)
        if dist is None:
            broken = _broken_metadata_error(name, env)  # pip crashes on it: never skipped
            error = broken or PackageError(f"{name} is not installed in {env.python}",
                                           hint=did_you_mean(name, [d.name for d in env.dists.values()]))
            if strict or broken:
                raise error
            missing.append(f"{error}: skipped")
            continue
        items.append(UninstallItem(dist.name, dist.version, dist.location,
                                   reverse_dependencies(env, dist.name, exclude=keys)))
    shared = run_in_target(env.python, ["overlaps", json.dumps([i.name for i in items])]) if items else {}
    damaged = {}
    for item in items:
        item.shares_files = shared.get(item.name, {})
        damaged.update({other: env.version(other) for other in item.shares_files})
    return UninstallPlan(env.python, env.pip_version, items, damaged, missing)


def execute_uninstall(plan: UninstallPlan, on_line: Callable[[str], None] | None = None) -> list[str]:
    """Run ``pip uninstall -y`` for the plan; returns the names still installed afterwards (should be none)."""
    if plan.pip_version is None:
        raise PackageError(f"pip is not installed in {plan.python}", hint=f"{plan.python} -m ensurepip --upgrade")
    runner = PipRunner(plan.python, plan.pip_version)
    result = runner.run(["uninstall", "-y", "--disable-pip-version-check", *plan.pip_options,
                         *[i.name for i in plan.items]], on_line=on_line)
    after = probe_environment(plan.python, gpu=False)
    if not result.ok:
        broken = after.broken_metadata
        if broken:
            raise PackageError(f"pip uninstall crashed (exit {result.returncode}) on broken metadata: "
                               + "; ".join(f"{b.path}: {b.problem}" for b in broken),
                               hint="remove that folder: " + shlex.join(["rm", "-r", *(b.path for b in broken)]))
        raise PackageError(f"pip uninstall failed (exit {result.returncode}): "
                           + " | ".join(l.removeprefix("ERROR: ") for l in result.error_lines()[:3]))
    return [item.name for item in plan.items if after.get(item.name) is not None]


def uninstall_and_repair(plan: UninstallPlan, repair, on_line: Callable[[str], None] | None = None) -> list[str]:
    """Carry out ``plan``, then reinstall the distributions that lost shared files (``repair``: the
    :class:`~minim.packages.plan.InstallOptions` of :meth:`UninstallPlan.repair_options`). Their wheels are
    downloaded first: when that fails, nothing is uninstalled. Returns what was reinstalled (``name==version``)."""
    from minim.errors import MinimError
    from minim.packages.plan import plan_install
    from minim.packages.replace import replace_distributions

    damaged = ", ".join(f"{n} {v}" for n, v in plan.damaged.items())
    try:
        install = plan_install(repair, plan.python)
    except MinimError as exc:
        raise PackageError(f"cannot reinstall {damaged} after the uninstall ({exc.message}): nothing was uninstalled",
                           hint=exc.hint or "give the index that has it with --index-url, or pass --no-repair to "
                                             "uninstall anyway (then the repair command is printed)") from exc
    replace_distributions([], install, plan.python, on_line, purpose=f"restoring the shared files of {damaged}",
                          uninstall_plan=plan)
    return list(repair.specs)
