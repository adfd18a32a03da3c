"""Data package: the built-in model indexes and configs (installed as ``minim.model_index``)."""
