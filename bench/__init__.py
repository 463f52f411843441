"""Stilton's benchmarks: real installers against real servers on loopback, reported as ratios.

Run ``uv run python -m bench --help``; ``bench/README.md`` says what each scenario measures.
"""
