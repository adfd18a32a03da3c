"""Replace installed distributions without ever leaving the environment worse off than a failed download.

The replacement is built and downloaded first; only then are the old distributions uninstalled and the
downloaded files installed (``--no-index``). Used by ``minim doctor --fix`` (shadowed imports, an mmcv
outside the range a package asserts) and ``minim uninstall`` (the survivor of a shared-file pair gets its
files back).
"""

from __future__ import annotations

import os
import shlex
import shutil
import tempfile
from typing import Callable

from minim.env.probe import probe_environment
from minim.errors import PackageError
from minim.packages.pip import PipRunner


def download_plan(plan, folder: str, on_line: Callable[[str], None] | None, with_deps: bool = False) -> list[str]:
    """The wheels the plan installs (built first where it builds one), in ``folder``: ``pip download`` of its
    requirements, ``--no-deps`` unless ``with_deps``."""
    from minim.packages.install import build_planned_wheels

    build_planned_wheels(plan, on_line)
    deps = [] if with_deps and "--no-deps" not in plan.pip_args else ["--no-deps"]
    args = [a for a in plan.pip_args if a not in ("--force-reinstall", "--upgrade", "--no-deps")]
    result = PipRunner(plan.python, plan.pip_version).run(["download", *deps, "--dest", folder, *args],
                                                          on_line=on_line)
    if not result.ok:
        detail = " | ".join(line.removeprefix("ERROR: ") for line in result.error_lines()[:3])
        raise PackageError(f"could not download {', '.join(plan.requests)} ({detail}): nothing was uninstalled, "
                           "the environment is unchanged", hint="check the index (--index-url), then try again")
    return sorted(os.path.join(folder, name) for name in os.listdir(folder))


def replace_distributions(remove: list[str], plan, python: str, on_line: Callable[[str], None] | None = None,
                          prefetch: bool = False, purpose: str = "the replacement",
                          uninstall_plan=None) -> list[str]:
    """Download what ``plan`` installs, uninstall ``remove`` (or carry out ``uninstall_plan``), install the
    downloaded files and verify them; returns the names uninstalled. ``prefetch`` downloads the dependencies too
    (installed from the same folder); otherwise the files go in with ``--no-deps --force-reinstall``."""
    from minim.packages.install import verify_packages
    from minim.packages.uninstall import execute_uninstall, plan_uninstall

    folder = tempfile.mkdtemp(prefix="minim-fix-")
    try:
        files = download_plan(plan, folder, on_line, with_deps=prefetch) if plan is not None else []
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    env = probe_environment(python, gpu=False)
    if uninstall_plan is None:
        present = [n for n in remove if env.get(n) is not None]
        uninstall_plan = plan_uninstall(present, env=env, allow_pip=True) if present else None
    present = [item.name for item in uninstall_plan.items] if uninstall_plan is not None else []
    if present:
        left = execute_uninstall(uninstall_plan, on_line=on_line)
        if left:
            raise PackageError(f"pip left {', '.join(left)} installed while {purpose}")
    if not files:
        return present
    how = ["--find-links", folder] if prefetch else ["--no-deps", "--force-reinstall"]
    result = PipRunner(python, env.pip_version).run(
        ["install", "--disable-pip-version-check", *how, "--no-index", *files], on_line=on_line)
    if not result.ok:
        restore = shlex.join([python, "-m", "pip", "install", "--no-deps", "--no-index", *files])
        detail = " | ".join(line.removeprefix("ERROR: ") for line in result.error_lines()[:3])
        raise PackageError(f"uninstalled {', '.join(present)}, then pip failed to install the downloaded "
                           f"{', '.join(os.path.basename(f) for f in files)} ({detail}): "
                           f"{', '.join(present)} are not installed now",
                           hint=f"the wheels are kept in {folder}; restore with: {restore}")
    shutil.rmtree(folder, ignore_errors=True)
    wanted = [(item.name, item.version) for item in plan.items if item.action != "keep"]
    wanted += [(name, None) for name in plan.openmmlab if all(name != w[0] for w in wanted)]
    bad = [f"{v.name}: {v.problem()}" for v in verify_packages(python, wanted) if not v.ok]
    if bad:
        raise PackageError(f"{purpose}: installed, but verification failed: {'; '.join(bad)}")
    return present
