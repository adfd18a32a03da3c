"""Carry out an install plan with pip, then check each package in a fresh interpreter."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Callable

from minim.env.probe import probe_environment, run_in_target
from minim.errors import PackageError
from minim.packages.compat import load_compat, parse_version
from minim.packages.impact import describe_changes, problems, snapshot
from minim.packages.pip import PipRunner
from minim.packages.plan import InstallPlan, explain_failure

INSTALL_TIMEOUT = 6 * 3600.0
VERIFY_TIMEOUT = 600.0


@dataclass
class Verification:
    """The state of one package after the install."""

    name: str
    expected: str | None
    installed: str | None
    #: import package -> None (imported) or "ExcType: message"
    imports: dict = field(default_factory=dict)
    error: str | None = None

    def _version_differs(self) -> bool:
        return bool(self.expected) and parse_version(self.expected) != parse_version(self.installed)

    @property
    def ok(self) -> bool:
        if self.error or self.installed is None or self._version_differs():
            return False
        return all(problem is None for problem in self.imports.values())

    def problem(self) -> str | None:
        if self.error:
            return self.error
        if self.installed is None:
            return "not installed"
        if self._version_differs():
            return f"version {self.installed} installed, {self.expected} expected"
        failed = {k: v for k, v in self.imports.items() if v is not None}
        if failed:
            return "; ".join(f"import {k}: {v}" for k, v in failed.items())
        return None


@dataclass
class InstallOutcome:
    plan: InstallPlan
    returncode: int
    verifications: list[Verification]
    #: requirements of installed packages the install left unmet (as ``pip check`` says)
    broken: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and all(v.ok for v in self.verifications) and not self.broken

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "plan": self.plan.to_dict(),
            "pip_returncode": self.returncode,
            "verified": [dict(asdict(v), ok=v.ok, problem=v.problem()) for v in self.verifications],
            "broken": self.broken,
        }


def _verify_one(python: str, name: str, expected: str | None) -> Verification:
    import json

    try:
        answer = run_in_target(python, ["verify", json.dumps([[name, expected]])], timeout=VERIFY_TIMEOUT)[0]
    except PackageError as exc:  # the interpreter itself died importing it (a segfault, a timeout)
        return Verification(name, expected, None, error=str(exc))
    return Verification(name=answer["name"], expected=answer["expected"], installed=answer["installed"],
                        imports=answer.get("imports") or {}, error=answer.get("error"))


def verify_packages(python: str, packages: list[tuple[str, str | None]]) -> list[Verification]:
    """Read each package's version and import its top-level modules, each in its own fresh ``python``.

    One process per package: imports in a shared process interfere (setuptools refuses to load
    after something imported the standard library's distutils).
    """
    if not packages:
        return []
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, len(packages))) as pool:
        return list(pool.map(lambda item: _verify_one(python, *item), packages))


def build_planned_wheels(plan: InstallPlan, on_line: Callable[[str], None] | None = None) -> None:
    """Build (or take from the cache) every wheel the plan builds from an sdist, before anything is installed."""
    from minim.packages.wheelbuild import build_wheel

    for step in plan.builds:
        build_wheel(step, plan.python, plan.python_version or "", plan.index_args, on_line)


def execute_install(plan: InstallPlan, on_line: Callable[[str], None] | None = None) -> InstallOutcome:
    """Run ``pip install`` with the plan's arguments (output streamed to ``on_line``) and verify the result.

    A pip failure raises :class:`PackageError` with pip's own error lines and what pip changed before it
    failed (with the commands that restore it). Requirements of installed packages that the install left
    unmet end up in :attr:`InstallOutcome.broken`.
    """
    build_planned_wheels(plan, on_line)
    runner = PipRunner(plan.python, plan.pip_version)
    result = runner.run(["install", *plan.verbosity_args, *plan.pip_args], on_line=on_line, timeout=INSTALL_TIMEOUT)
    env = probe_environment(plan.python, gpu=False)
    if not result.ok:
        error = explain_failure(result, plan, load_compat(), env, allow_build=plan.allow_build, stage="installing")
        changes = describe_changes(plan.before, snapshot(env), plan.python) if plan.before else None
        if changes:
            error.message += f"; {changes}"
        raise error
    if plan.target:  # the folder is not on the interpreter's path: nothing to import there
        return InstallOutcome(plan, result.returncode, [])
    wanted = [(item.name, item.version) for item in plan.items if item.action != "keep"]
    if not plan.resolved:
        wanted = [(item.name, None) for item in plan.items if "/" not in item.name and "\\" not in item.name]
    wanted += [(name, None) for name in plan.openmmlab if all(name != w[0] for w in wanted) and env.get(name)]
    broken = sorted(problems(env) - plan.problems_before)
    return InstallOutcome(plan, result.returncode, verify_packages(plan.python, wanted), broken)
