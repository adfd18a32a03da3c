"""The click command-line interface: thin wrappers over library code."""
