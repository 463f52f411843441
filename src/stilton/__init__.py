"""Stilton: a private Python package index, caching proxy and mirror in one process."""

__version__ = "0.1.0"
