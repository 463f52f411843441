"""An error message is rendered on one line whatever it quotes: clients print it to a terminal."""

from __future__ import annotations

import pytest

from stilton.web.errors import one_line


@pytest.mark.parametrize(
    ("message", "rendered"),
    [
        ("File already exists ('a-1.0.tar.gz').", "File already exists ('a-1.0.tar.gz')."),
        ("Unicode stays: 'café-1.0.tar.gz'", "Unicode stays: 'café-1.0.tar.gz'"),
        ("a\r\nX-Injected: yes", "a\\r\\nX-Injected: yes"),
        ("tab\there", "tab\\there"),
        ("clear \x1b[2J screen", "clear \\x1b[2J screen"),
        ("line\u2028separator", "line\\u2028separator"),
        ("next line \x85 (C1)", "next line \\x85 (C1)"),
    ],
)
def test_one_line(message: str, rendered: str) -> None:
    assert one_line(message) == rendered
    assert one_line(message).isprintable()
