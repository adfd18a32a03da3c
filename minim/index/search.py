"""``minim search``: select, sort and limit index entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from minim.errors import NotFoundError
from minim.index.loader import ModelIndex
from minim.index.query import (available_fields, check_field, group_by_collection, matches_pattern, numeric_fields,
                               parse_condition, sort_entries, _normalise)
from minim.index.schema import ModelEntry
from minim.suggest import did_you_mean


@dataclass
class SearchQuery:
    """What to look for; every part is optional and parts are ANDed."""

    models: list[str] = field(default_factory=list)
    configs: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)
    sort: list[str] = field(default_factory=list)
    descending: bool = False
    limit: int | None = None


def search(index: ModelIndex, query: SearchQuery) -> list[ModelEntry]:
    """Entries of ``index`` matching ``query``; a name that matches nothing raises with suggestions."""
    fields = available_fields(index.models)
    numeric = numeric_fields(index.models, fields) if query.conditions else set()
    conditions = [parse_condition(text, fields, numeric) for text in query.conditions]
    sort_keys = [check_field(key, fields) for key in query.sort]
    entries = list(index.models)
    if query.configs:
        wanted = {index.resolve(name).name for name in query.configs}
        entries = [e for e in entries if e.name in wanted]
    if query.models:
        entries = [e for e in entries if any(matches_pattern(e, p) for p in query.models)]
        if not entries:
            raise NotFoundError(
                f"no model matches {', '.join(map(repr, query.models))} in the {index.codebase} index",
                hint=index.suggest(query.models[0], _model_words(index)),
            )
    if query.datasets:
        known = sorted({str(e.metadata.get("dataset")) for e in index.models})
        wanted_sets = {_normalise(d) for d in query.datasets}
        entries = [e for e in entries if _normalise(str(e.metadata.get("dataset"))) in wanted_sets]
        if not entries and not any(_normalise(k) in wanted_sets for k in known):
            raise NotFoundError(
                f"no dataset {', '.join(map(repr, query.datasets))} in the {index.codebase} index; "
                f"datasets: {', '.join(known)}",
                hint=did_you_mean(query.datasets[0], known),
            )
    entries = [e for e in entries if all(c.matches(e) for c in conditions)]
    entries = sort_entries(entries, sort_keys, query.descending) if sort_keys else group_by_collection(entries)
    if query.limit is not None:
        entries = entries[: max(query.limit, 0)]
    return entries


def _model_words(index: ModelIndex) -> list[str]:
    words = {e.collection for e in index.models}
    words.update(index.keys())
    return sorted(words)
