"""Safe mmcv-style config files: parse without executing, merge ``_base_``, override, dump."""
