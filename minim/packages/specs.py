"""What the user asked to install: requirement specifiers, local paths, URLs, editables, -r files."""

from __future__ import annotations

import os
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from minim.errors import UsageError

_ARCHIVE_SUFFIXES = (".whl", ".tar.gz", ".tgz", ".zip", ".tar.bz2")


@dataclass(frozen=True)
class Requested:
    """One thing to install."""

    #: the text as given
    text: str
    #: 'requirement' (name + specifier), 'path' (local wheel/sdist/folder), 'url' or 'editable'
    kind: str
    #: where it was given: 'command line' or 'requirements.txt:3'
    origin: str = "command line"
    requirement: Requirement | None = None

    @property
    def key(self) -> str | None:
        """The canonical project name, when the request names one."""
        return canonicalize_name(self.requirement.name) if self.requirement is not None else None


def exact_version(specifier: SpecifierSet) -> str | None:
    """The version an ``==X`` / ``===X`` specifier pins (no wildcard), else None."""
    specs = list(specifier)
    if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
        return specs[0].version
    return None


def _suggest(text: str) -> str | None:
    """A likely intended specifier for a common typo (``torch=2.1``, ``torch 2.1``, ``torch-2.1``)."""
    match = re.fullmatch(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*?)\s*(?:=|\s+|-)\s*v?(\d[\w.]*)\s*", text)
    if match:
        return f"did you mean '{match.group(1)}=={match.group(2)}'?"
    return None


def _looks_like_path(text: str) -> bool:
    return (os.sep in text or text.startswith(".") or text.lower().endswith(_ARCHIVE_SUFFIXES)
            or (os.altsep is not None and os.altsep in text))


def parse_request(text: str, origin: str = "command line") -> Requested:
    """Classify and validate one install argument; invalid ones raise :class:`UsageError`."""
    stripped = text.strip()
    where = "" if origin == "command line" else f"{origin}: "
    if not stripped:
        raise UsageError(f"{where}empty requirement")
    if stripped.startswith("-"):
        raise UsageError(f"{where}unknown option {stripped.split()[0]!r}",
                         hint="pass options minim does not know to pip after '--', e.g. minim install X -- --no-cache-dir")
    if "://" in stripped.split(";")[0] and "@" not in stripped.split("://")[0]:
        return Requested(stripped, "url", origin)
    try:
        requirement = Requirement(stripped)
    except InvalidRequirement as exc:
        if _looks_like_path(stripped):
            path = Path(stripped).expanduser()
            if not path.exists():
                raise UsageError(f"{where}{stripped}: no such file or folder") from None
            return Requested(str(path), "path", origin)
        message = str(exc).splitlines()[0]
        raise UsageError(f"{where}invalid requirement {stripped!r}: {message}", hint=_suggest(stripped)) from None
    if requirement.url:
        return Requested(stripped, "url", origin, requirement)
    if _looks_like_path(stripped) and Path(stripped).expanduser().exists():
        return Requested(str(Path(stripped).expanduser()), "path", origin)
    return Requested(stripped, "requirement", origin, requirement)


def parse_editable(text: str) -> Requested:
    """An ``-e PATH`` argument: the folder must exist (VCS URLs pass through)."""
    if "://" not in text and not Path(text).expanduser().exists():
        raise UsageError(f"-e {text}: no such folder")
    return Requested(text, "editable")


def _logical_lines(text: str):
    """``(line number, line)`` with comments removed and backslash continuations joined."""
    buffer, start = "", None
    for number, raw in enumerate(text.splitlines(), 1):
        line = re.sub(r"(^|\s)#.*$", "", raw).rstrip()
        if start is None:
            start = number
        if line.endswith("\\"):
            buffer += line[:-1] + " "
            continue
        buffer += line
        if buffer.strip():
            yield start, buffer.strip()
        buffer, start = "", None
    if buffer.strip():
        yield start, buffer.strip()


def read_requirements_file(path: str | os.PathLike, _seen: set | None = None) -> list[Requested]:
    """The requirements a pip requirements file names (following nested ``-r``).

    Option lines (``-i``, ``-f``, ``--hash``, ...) are left to pip, which reads the file itself;
    they are validated here only so far as a malformed requirement line is reported with its
    file and line before pip runs.
    """
    file = Path(path).expanduser()
    seen = _seen if _seen is not None else set()
    if file.resolve() in seen:
        return []
    seen.add(file.resolve())
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"-r {path}: {exc.strerror or exc}") from exc
    found: list[Requested] = []
    for number, line in _logical_lines(text):
        origin = f"{file}:{number}"
        if line.startswith("-"):
            words = shlex.split(line)
            option = words[0]
            value = words[1] if len(words) > 1 else option.partition("=")[2]
            if option in ("-r", "--requirement") or option.startswith("--requirement="):
                found.extend(read_requirements_file(file.parent / value, seen))
            elif option in ("-e", "--editable") or option.startswith("--editable="):
                found.append(Requested(value, "editable", origin))
            continue
        requirement_text = line.split(" --", 1)[0].strip()  # per-requirement options (--hash=...)
        found.append(parse_request(requirement_text, origin))
    return found


#: ``pip install`` options that take a value as the next word (``-r FILE``, ``--index-url URL``, ...)
PIP_VALUE_OPTIONS = frozenset({
    "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-t", "--target", "--platform",
    "--python-version", "--implementation", "--abi", "--root", "--prefix", "--src", "--upgrade-strategy",
    "-C", "--config-settings", "--global-option", "-i", "--index-url", "--extra-index-url", "-f", "--find-links",
    "--no-binary", "--only-binary", "--progress-bar", "--root-user-action", "--report", "--log", "--proxy",
    "--retries", "--timeout", "--exists-action", "--trusted-host", "--cert", "--client-cert", "--cache-dir",
    "--keyring-provider", "--use-feature", "--use-deprecated", "--python", "--resume-retries", "--group",
})


@dataclass
class PipWords:
    """What minim reads in the words after ``--`` (which pip still gets verbatim)."""

    #: positional requirements (planned like SPECs)
    specs: list[str]
    requirement_files: list[str]
    editables: list[str]
    index_url: str | None
    extra_index_urls: list[str]
    find_links: list[str]
    no_index: bool


def read_pip_words(words: list[str]) -> PipWords:
    """Sort the words after ``--`` into requirements and the index options minim must know of (``--no-index``
    stops every index probe); values given as ``--opt=value`` or ``--opt value`` are both understood."""
    found = PipWords([], [], [], None, [], [], False)
    values = {"-r": found.requirement_files, "--requirement": found.requirement_files, "-e": found.editables,
              "--editable": found.editables, "--extra-index-url": found.extra_index_urls, "-f": found.find_links,
              "--find-links": found.find_links}
    position = 0
    while position < len(words):
        word = words[position]
        position += 1
        if not word.startswith("-"):
            found.specs.append(word)
            continue
        option, equals, value = word.partition("=")
        if option in PIP_VALUE_OPTIONS and not equals:
            if position >= len(words):
                raise UsageError(f"pip option {option} after '--' needs a value")
            value = words[position]
            position += 1
        if option == "--no-index":
            found.no_index = True
        elif option in ("-i", "--index-url"):
            found.index_url = value
        elif option in values:
            values[option].append(value)
    return found
