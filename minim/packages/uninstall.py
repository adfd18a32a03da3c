"""``minim uninstall``: a plan that names what else needs each package, then ``pip uninstall``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from packaging.utils import canonicalize_name

from minim.env.model import Environment
from minim.env.probe import probe_environment
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


@dataclass
class UninstallPlan:
    python: str
    pip_version: str | None
    items: list[UninstallItem]

    @property
    def warnings(self) -> list[str]:
        return [f"{item.name} is required by {', '.join(item.required_by)}: they will break"
                for item in self.items if item.required_by]

    def to_dict(self) -> dict:
        return {"python": self.python, "items": [asdict(i) for i in self.items], "warnings": self.warnings}


def plan_uninstall(names: list[str], python: str | None = None, env: Environment | None = None) -> UninstallPlan:
    """Check every name is installed (did-you-mean otherwise) and find who still requires it."""
    if not names:
        raise UsageError("nothing to uninstall", hint="give one or more package names")
    env = env or probe_environment(python, gpu=False)
    keys = {canonicalize_name(n) for n in names}
    items = []
    for name in dict.fromkeys(names):
        dist = env.get(name)
        if dist is None:
            raise PackageError(f"{name} is not installed in {env.python}",
                               hint=did_you_mean(name, [d.name for d in env.dists.values()]))
        items.append(UninstallItem(dist.name, dist.version, dist.location,
                                   reverse_dependencies(env, dist.name, exclude=keys)))
    return UninstallPlan(env.python, env.pip_version, items)


def execute_uninstall(plan: UninstallPlan, on_line: Callable[[str], None] | None = None) -> list[str]:
    """Run ``pip uninstall -y`` for the plan; returns the names still installed afterwards (should be none)."""
    if plan.pip_version is None:
        raise PackageError(f"pip is not installed in {plan.python}", hint=f"{plan.python} -m ensurepip --upgrade")
    runner = PipRunner(plan.python, plan.pip_version)
    result = runner.run(["uninstall", "-y", "--disable-pip-version-check", *[i.name for i in plan.items]],
                        on_line=on_line)
    if not result.ok:
        raise PackageError(f"pip uninstall failed (exit {result.returncode}): "
                           + " | ".join(l.removeprefix("ERROR: ") for l in result.error_lines()[:3]))
    after = probe_environment(plan.python, gpu=False)
    return [item.name for item in plan.items if after.get(item.name) is not None]
