"""Slurm host lists: ``node[01-03,07],gpu5`` -> ``['node01', 'node02', 'node03', 'node07', 'gpu5']``."""

from __future__ import annotations

import itertools
import re

from minim.errors import UsageError

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")


def expand_hostlist(text: str) -> list[str]:
    """Expand Slurm's compact host list syntax (as ``scontrol show hostnames`` does).

    Commas outside brackets separate hosts; ``[a-b,c]`` inside a name expands to each number,
    keeping the zero padding of ``a``; several bracket groups in one name give every combination.
    """
    text = text.strip()
    if not text:
        raise UsageError("empty Slurm host list")
    hosts: list[str] = []
    for item in _split_top_level(text):
        hosts.extend(_expand_item(item, text))
    return hosts


def _split_top_level(text: str) -> list[str]:
    items, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise UsageError(f"unbalanced ']' in Slurm host list {text!r}")
        elif char == "," and depth == 0:
            items.append(text[start:index])
            start = index + 1
    if depth:
        raise UsageError(f"unbalanced '[' in Slurm host list {text!r}")
    items.append(text[start:])
    return [item.strip() for item in items if item.strip()]


def _expand_item(item: str, whole: str) -> list[str]:
    parts = re.split(r"(\[[^\]]*\])", item)
    choices: list[list[str]] = []
    for part in parts:
        if part.startswith("["):
            choices.append(_expand_brackets(part[1:-1], whole))
        elif part:
            if "[" in part or "]" in part:
                raise UsageError(f"bad bracket in Slurm host list {whole!r}")
            choices.append([part])
    return ["".join(combination) for combination in itertools.product(*choices)]


def _expand_brackets(body: str, whole: str) -> list[str]:
    values: list[str] = []
    for piece in body.split(","):
        match = _RANGE.match(piece.strip())
        if not match:
            raise UsageError(f"bad range {piece!r} in Slurm host list {whole!r}")
        first, last = match.group(1), match.group(2)
        if last is None:
            values.append(first)
            continue
        if int(last) < int(first):
            raise UsageError(f"descending range {piece!r} in Slurm host list {whole!r}")
        width = len(first)
        values.extend(str(n).zfill(width) for n in range(int(first), int(last) + 1))
    return values
