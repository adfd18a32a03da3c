"""Tools of the ``cls`` codebase, run with ``minim run cls TOOL``."""
