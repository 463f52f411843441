"""A release's description (its README) rendered as PyPI renders it, with readme_renderer:
Markdown (GFM or CommonMark), reStructuredText or plain text, sanitised (scripts, event
handlers and javascript: links removed). Rendered once per distinct text."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from email.message import Message

import readme_renderer.markdown
import readme_renderer.rst
import readme_renderer.txt
from markupsafe import Markup

KEEP = 256  # rendered descriptions kept
# Heading anchors with no text: a screen reader announces them as empty links.
_EMPTY_ANCHOR = re.compile(r'<a href="#[^"]*"(?: rel="nofollow")?></a>')
# A code block's language (``<pre lang="python">``) is not a human language: screen readers
# would switch voices on it.
_CODE_LANG = re.compile(r'<pre lang="([^"]*)"')


def _content_type(raw: str | None) -> tuple[str, dict[str, str]]:
    message = Message()
    message["Content-Type"] = raw or "text/x-rst"
    params = {k.lower(): v for k, v in message.get_params(failobj=[])[1:]}
    return message.get_content_type(), params


def render_description(text: str, content_type: str | None) -> Markup:
    kind, params = _content_type(content_type)
    html: str | None
    if kind == "text/markdown":
        html = readme_renderer.markdown.render(text, variant=params.get("variant", "GFM"))
    elif kind == "text/plain":
        html = readme_renderer.txt.render(text)
    else:
        html = readme_renderer.rst.render(text)
    # reStructuredText that does not parse is shown as text.
    shown = html if html is not None else (readme_renderer.txt.render(text) or "")
    shown = _CODE_LANG.sub(r'<pre data-lang="\1"', _EMPTY_ANCHOR.sub("", shown))
    return Markup(shown)  # noqa: S704 - sanitised by readme_renderer (nh3)


class Readmes:
    def __init__(self) -> None:
        self._kept: OrderedDict[str, Markup] = OrderedDict()

    def render(self, text: str, content_type: str | None) -> Markup:
        key = hashlib.sha256(f"{content_type}\0{text}".encode()).hexdigest()
        found = self._kept.get(key)
        if found is None:
            found = self._kept[key] = render_description(text, content_type)
            if len(self._kept) > KEEP:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return found
