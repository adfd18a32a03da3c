"""Grid search over config values: every combination trained in its own folder, ranked in one table.

>>> from minim.gridsearch import gridsearch                                   # doctest: +SKIP
>>> gridsearch("cls", "cfg.py", "--optimizer.lr 1e-2 1e-3 --runner.max_epochs 5 10")  # doctest: +SKIP
"""

from minim.gridsearch.search import GridSearchResult, RunResult, gridsearch
from minim.gridsearch.space import Combination, SearchKey, combination_name, expand, parse_search_args

__all__ = [
    "Combination",
    "GridSearchResult",
    "RunResult",
    "SearchKey",
    "combination_name",
    "expand",
    "gridsearch",
    "parse_search_args",
]
