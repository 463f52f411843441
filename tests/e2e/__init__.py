"""End-to-end tests: a real Stilton server driven by real packaging clients."""
