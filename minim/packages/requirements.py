"""Requirements of installed distributions, evaluated for the target environment (what ``pip check`` checks)."""

from __future__ import annotations

from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from minim.env.model import Dist, Environment


@dataclass(frozen=True)
class Unsatisfied:
    """A requirement of an installed distribution that the environment does not meet."""

    dist: str
    dist_version: str
    requirement: str
    #: the installed version of the required project, None when it is missing
    installed: str | None

    @property
    def required(self) -> str:
        return canonicalize_name(Requirement(self.requirement).name)

    def describe(self) -> str:
        if self.installed is None:
            return f"{self.dist} {self.dist_version} requires {self.requirement}, which is not installed"
        return f"{self.dist} {self.dist_version} requires {self.requirement}, but {self.installed} is installed"


def applicable_requirements(dist: Dist, env: Environment) -> list[Requirement]:
    """The requirements of ``dist`` that apply to ``env`` (markers evaluated; extras not requested)."""
    found = []
    markers = dict(env.markers, extra="")
    for text in dist.requires:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        if requirement.marker is not None:
            try:
                if not requirement.marker.evaluate(markers):
                    continue
            except Exception:  # an unknown marker variable: pip would not install it either
                continue
        found.append(requirement)
    return found


def unsatisfied_requirements(env: Environment) -> list[Unsatisfied]:
    """Every requirement of every installed distribution that is missing or the wrong version."""
    problems = []
    for dist in env.dists.values():
        for requirement in applicable_requirements(dist, env):
            installed = env.get(requirement.name)
            if installed is None:
                problems.append(Unsatisfied(dist.name, dist.version, str(requirement), None))
                continue
            try:
                version = Version(installed.version)
            except InvalidVersion:
                continue
            if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
                problems.append(Unsatisfied(dist.name, dist.version, str(requirement), installed.version))
    return problems


def reverse_dependencies(env: Environment, name: str, exclude: set[str] = frozenset()) -> list[str]:
    """Installed distributions (outside ``exclude``) whose applicable requirements name ``name``."""
    key = canonicalize_name(name)
    users = []
    for dist in env.dists.values():
        if dist.key == key or dist.key in exclude:
            continue
        if any(canonicalize_name(r.name) == key for r in applicable_requirements(dist, env)):
            users.append(dist.name)
    return sorted(users, key=str.lower)
