"""Names with a special meaning in config files."""

from __future__ import annotations

BASE_KEY = "_base_"                 #: list of base files to inherit from
DELETE_KEY = "_delete_"             #: in a child dict: replace the base value instead of merging
DEPRECATION_KEY = "_deprecation_"   #: popped from the config and turned into a warning
CUSTOM_IMPORTS_KEY = "custom_imports"  #: modules mmcv imports; minim warns that it does not
RESERVED_KEYS = ("filename", "text", "pretty_text")  #: names that cannot be config keys (mmcv's rule)


def is_key_name(name: str) -> bool:
    """Module-level names that become config keys (not ``__private`` ones nor ``_base_``)."""
    return not name.startswith("__") and name != BASE_KEY
