"""Test support: builders for real distributions and a real Stilton server process."""
