"""Tests that talk to the public index; marked ``live`` and deselected by default."""
