"""Helpers for the tests/test_config_*.py files: write small configs into a tmp folder."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from minim.config import load_config
from minim.errors import ConfigError


def write(folder: Path, name: str, text: str) -> Path:
    """Write dedented ``text`` to ``folder/name`` (creating sub-folders) and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(folder: Path, text: str, name: str = "cfg.py"):
    """Write one config and load it."""
    return load_config(write(folder, name, text))


def load_error(folder: Path, text: str, name: str = "cfg.py") -> ConfigError:
    """Write one config, expect load_config to fail, return the error."""
    path = write(folder, name, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value
