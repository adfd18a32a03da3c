"""One module per ``minim`` command; each exposes a click command named ``command``."""
