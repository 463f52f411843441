"""The ``stilton`` command line (Typer + Rich)."""
