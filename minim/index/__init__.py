"""The JSON model index: loading, validation and search."""

from minim.index.loader import ModelIndex, load_index, read_index_file
from minim.index.schema import ModelEntry, Weights

__all__ = ["ModelEntry", "ModelIndex", "Weights", "load_index", "read_index_file"]
