""""Did you mean" suggestions shared by every command."""

from __future__ import annotations

import difflib
import os
from typing import Iterable


def close_matches(word: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Return up to ``n`` candidates similar to ``word`` (case-insensitive), best first."""
    by_lower: dict[str, str] = {}
    for candidate in candidates:
        by_lower.setdefault(candidate.lower(), candidate)
    found = difflib.get_close_matches(word.lower(), list(by_lower), n=n, cutoff=cutoff)
    return [by_lower[f] for f in found]


def did_you_mean(word: str, candidates: Iterable[str], n: int = 3, cutoff: float = 0.6) -> str | None:
    """A ``did you mean ...?`` hint for ``word``, or None when nothing is close (similarity below ``cutoff``)."""
    matches = close_matches(word, candidates, n=n, cutoff=cutoff)
    if not matches:
        return None
    return "did you mean " + " or ".join(repr(m) for m in matches) + "?"


def nearest(word: str, candidates: Iterable[str], n: int = 3, floor: float = 0.45) -> list[str]:
    """Up to ``n`` candidates closest to ``word``, best first: string similarity plus a bonus for a shared
    start (``mobilenet-v2_8xb32`` is nearer ``mobilenet-v2_...`` than ``resnet50_8xb32``); none below ``floor``."""
    lowered = word.lower()
    scored = []
    for candidate in dict.fromkeys(candidates):
        text = candidate.lower()
        start = len(os.path.commonprefix([lowered, text]))
        score = difflib.SequenceMatcher(None, lowered, text).ratio() + 0.5 * start / max(len(lowered), 1)
        if score >= floor:
            scored.append((-score, candidate))
    return [candidate for _, candidate in sorted(scored)[:n]]
