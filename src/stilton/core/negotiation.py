"""Content negotiation for the Simple API (PEP 691): pick a media type from Accept or ?format=."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stilton.core.errors import NotAcceptable


class SimpleFormat(StrEnum):
    """The three representations of a Simple API page, by their concrete media type."""

    TEXT_HTML = "text/html"
    V1_HTML = "application/vnd.pypi.simple.v1+html"
    V1_JSON = "application/vnd.pypi.simple.v1+json"

    @property
    def is_json(self) -> bool:
        return self is SimpleFormat.V1_JSON

    @property
    def content_type(self) -> str:
        return "text/html; charset=utf-8" if self is SimpleFormat.TEXT_HTML else self.value


# PEP 691: "latest" names resolve to the concrete version the server speaks.
_ALIASES: dict[str, SimpleFormat] = {
    "text/html": SimpleFormat.TEXT_HTML,
    "application/vnd.pypi.simple.v1+html": SimpleFormat.V1_HTML,
    "application/vnd.pypi.simple.latest+html": SimpleFormat.V1_HTML,
    "application/vnd.pypi.simple.v1+json": SimpleFormat.V1_JSON,
    "application/vnd.pypi.simple.latest+json": SimpleFormat.V1_JSON,
}
# Offer order breaks q-value ties; HTML first, as PyPI does, so "*/*" gets text/html.
_OFFERS = (SimpleFormat.TEXT_HTML, SimpleFormat.V1_HTML, SimpleFormat.V1_JSON)


@dataclass(frozen=True, slots=True)
class _Range:
    type: str
    subtype: str
    q: float

    def matches(self, media_type: str) -> tuple[bool, int]:
        """Whether this range matches, and how specific it is (RFC 9110 §12.5.1)."""
        offered_type, _, offered_subtype = media_type.partition("/")
        if self.type == "*" and self.subtype == "*":
            return True, 0
        if self.type == offered_type and self.subtype == "*":
            return True, 1
        return self.type == offered_type and self.subtype == offered_subtype, 2


def _parse_accept(header: str) -> list[_Range]:
    ranges = []
    for item in header.split(","):
        media, *params = (part.strip() for part in item.split(";"))
        if "/" not in media:
            continue
        kind, _, sub = media.lower().partition("/")
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append(_Range(kind, sub, q))
    return ranges


def _quality(ranges: list[_Range], offer: SimpleFormat) -> float:
    """RFC 9110 §12.5.1: the q of the most specific range matching the offer under any of its
    names (its ``latest`` alias included); equally specific matches give the highest q."""
    names = [name for name, fmt in _ALIASES.items() if fmt is offer]
    best_specificity, best_q = -1, 0.0
    for accept_range in ranges:
        for name in names:
            matched, specificity = accept_range.matches(name)
            if not matched or specificity < best_specificity:
                continue
            if specificity > best_specificity:
                best_specificity, best_q = specificity, accept_range.q
            else:
                best_q = max(best_q, accept_range.q)
    return best_q


def select_format(accept: str | None, format_param: str | None = None) -> SimpleFormat:
    """Choose the representation: ``?format=`` first, then ``Accept`` with q-values.

    No Accept (or ``*/*``) gives text/html. Nothing acceptable raises NotAcceptable (PEP 691
    recommends 406).
    """
    if format_param:
        chosen = _ALIASES.get(format_param.strip().lower())
        if chosen is None:
            raise NotAcceptable(
                f"Unsupported format {format_param!r}; use one of: {', '.join(_OFFERS)}."
            )
        return chosen
    if not accept or not accept.strip():
        return SimpleFormat.TEXT_HTML
    ranges = _parse_accept(accept)
    best: SimpleFormat | None = None
    best_q = 0.0
    for offer in _OFFERS:
        q = _quality(ranges, offer)
        if q > best_q:
            best, best_q = offer, q
    if best is None:
        raise NotAcceptable(
            f"None of the accepted media types ({accept}) is available; this page is served as "
            f"{', '.join(_OFFERS)}."
        )
    return best
