"""Tests of the benchmark harness in bench/: its lock file and its smoke mode."""
