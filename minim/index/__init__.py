"""The JSON model index: loading, validation and search."""
