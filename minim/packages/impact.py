"""What an install does to the packages already there: shadowed imports, broken dependents, partial changes."""

from __future__ import annotations

import shlex

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.env.model import Environment
from minim.packages.compat import CompatData
from minim.packages.requirements import applicable_requirements, unsatisfied_requirements


def import_names(name: str, compat: CompatData) -> set[str]:
    """The import packages project ``name`` is known to ship: packages.json's ``import_conflicts`` entries
    that list it, and the usual spelling of its name (``dupa-full`` -> ``dupa_full``)."""
    key = canonicalize_name(name)
    names = {key.replace("-", "_")}
    for entry in compat.import_conflicts:
        if key in {canonicalize_name(d) for d in entry.get("distributions", [])}:
            names.add(entry.get("import", ""))
    return names - {""}


def _conflict_group(a: str, b: str, compat: CompatData) -> str | None:
    """The import package packages.json says ``a`` and ``b`` both ship, or None."""
    keys = {canonicalize_name(a), canonicalize_name(b)}
    for entry in compat.import_conflicts:
        if keys <= {canonicalize_name(d) for d in entry.get("distributions", [])}:
            return entry.get("import")
    return None


def import_conflicts(new: list[str], env: Environment, compat: CompatData) -> list[str]:
    """For each newly installed project in ``new``: the installed distributions it would overwrite files of."""
    found = []
    for name in new:
        key = canonicalize_name(name)
        shipped = import_names(name, compat)
        for dist in env.dists.values():
            if dist.key == key:
                continue
            package = _conflict_group(name, dist.name, compat) or next(iter(sorted(shipped & set(dist.top_level))),
                                                                        None)
            if package:
                found.append(f"{name} ships the import package {package}/, which the installed {dist.name} "
                             f"{dist.version} also ships: the two overwrite each other's files "
                             f"(uninstall {dist.name} first: minim uninstall {dist.name})")
    return found


def _satisfies(requirement: Requirement, version: str | None) -> bool:
    if version is None:
        return False
    try:
        return requirement.specifier.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return True


def broken_dependents(changes: dict[str, str | None], env: Environment) -> list[str]:
    """Installed distributions (not changed themselves) whose requirements ``changes`` (name -> new version,
    None for removed) would no longer meet, while they meet them now."""
    keys = {canonicalize_name(n): v for n, v in changes.items()}
    found = []
    for dist in env.dists.values():
        if dist.key in keys:
            continue
        for requirement in applicable_requirements(dist, env):
            key = canonicalize_name(requirement.name)
            if key not in keys or not _satisfies(requirement, env.version(key)):
                continue
            if not _satisfies(requirement, keys[key]):
                new = keys[key] or "removed"
                found.append(f"{requirement.name} {new} breaks {dist.name} {dist.version} (requires {requirement})")
    return found


def problems(env: Environment) -> set[str]:
    """``pip check``'s findings, as sentences."""
    return {p.describe() for p in unsatisfied_requirements(env)}


def snapshot(env: Environment) -> dict[str, str]:
    """``{name: version}`` of every installed distribution."""
    return {dist.name: dist.version for dist in env.dists.values()}


def describe_changes(before: dict[str, str], after: dict[str, str], python: str) -> str | None:
    """What changed between two snapshots, and the commands that restore ``before``; None when nothing did."""
    old = {canonicalize_name(n): (n, v) for n, v in before.items()}
    new = {canonicalize_name(n): (n, v) for n, v in after.items()}
    changed = [f"{old[k][0]} {old[k][1]} -> {new[k][1] if k in new else 'removed'}"
               for k in sorted(old) if new.get(k, (None, None))[1] != old[k][1]]
    added = [new[k][0] for k in sorted(new) if k not in old]
    if not changed and not added:
        return None
    target = ["--python", python]
    restore = []
    reinstall = [f"{old[k][0]}=={old[k][1]}" for k in sorted(old) if new.get(k, (None, None))[1] != old[k][1]]
    if reinstall:
        restore.append(shlex.join(["minim", "install", *reinstall, "--no-deps", "-y", *target]))
    if added:
        restore.append(shlex.join(["minim", "uninstall", *added, "-y", *target]))
    listing = "; ".join(changed + [f"{name} installed" for name in added])
    return f"the environment changed anyway: {listing}; restore it with: {' && '.join(restore)}"
