"""Who is asking: a browser wants a page for people; a package tool wants the Simple API.

Browsers ask for ``text/html`` first (``text/html,application/xhtml+xml,…,*/*;q=0.8``). Tools
either name a Simple API media type (pip, uv, pdm, pipenv and poetry, PROTOCOLS.md §1.5) or send
no ``Accept`` or ``*/*`` (hatch, curl, requests): none of them gets a page meant for people.
"""

from __future__ import annotations

SIMPLE_API_PREFIX = "application/vnd.pypi."
HTML = "text/html"


def _ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for item in accept.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media:
            ranges.append((media.lower(), q))
    return ranges


def wants_page(accept: str | None) -> bool:
    """True when ``text/html`` is named, preferred at least as much as anything else, and no
    Simple API type is named (a package tool's ``Accept`` always names one, or none at all)."""
    if not accept:
        return False
    ranges = _ranges(accept)
    if any(media.startswith(SIMPLE_API_PREFIX) and q > 0 for media, q in ranges):
        return False
    html = max((q for media, q in ranges if media == HTML), default=0.0)
    return html > 0 and all(q <= html for _, q in ranges)
