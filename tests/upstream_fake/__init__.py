"""Self-tests of the fake upstream repository that proxy tests run against."""
