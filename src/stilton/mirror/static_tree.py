"""A static PEP 503 tree of a bundle's files, for any web server (``python -m http.server``
will do): ``simple/index.html``, ``simple/<project>/index.html``, and links relative to the
page (``../../files/<sha256>/<filename>``) so the tree works under any path.

Each link carries what Stilton's own pages carry in HTML: the sha256 fragment (PEP 503),
Requires-Python, yanks (PEP 592) and the core metadata's hash (PEP 658/714), served beside the
file as ``<filename>.metadata``; each page its PEP 792 status.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from urllib.parse import quote

from stilton.core.model import ProjectStatus
from stilton.mirror.manifest import BundleFile, BundleProject

API_VERSION = "1.4"  # PEP 629; 1.4 brings PEP 792's status markers


def _page(title: str, head: str, body: str) -> bytes:
    return (
        '<!DOCTYPE html>\n<html>\n  <head>\n    <meta charset="utf-8">\n'
        f'    <meta name="pypi:repository-version" content="{API_VERSION}">\n{head}'
        f"    <title>{escape(title)}</title>\n  </head>\n  <body>\n{body}  </body>\n</html>\n"
    ).encode()


def render_root(projects: Iterable[BundleProject]) -> bytes:
    anchors = "".join(
        f'    <a href="{project.name}/">{escape(project.display_name)}</a><br />\n'
        for project in sorted(projects, key=lambda p: p.name)
    )
    return _page("Simple index", "", anchors)


def _anchor(file: BundleFile) -> str:
    href = f"../../files/{file.sha256}/{quote(file.filename)}#sha256={file.sha256}"
    attributes = [f'href="{escape(href)}"']
    if file.requires_python:
        attributes.append(f'data-requires-python="{escape(file.requires_python)}"')
    if file.yanked:
        attributes.append(f'data-yanked="{escape(file.yanked_reason or "")}"')
    if file.metadata_sha256:
        value = f"sha256={file.metadata_sha256}"
        attributes.append(f'data-dist-info-metadata="{value}" data-core-metadata="{value}"')
    return f"    <a {' '.join(attributes)}>{escape(file.filename)}</a><br />\n"


def render_project(project: BundleProject, files: Iterable[BundleFile]) -> bytes:
    head = f'    <meta name="pypi:project-status" content="{project.status.value}">\n'
    if project.status_reason:
        reason = escape(project.status_reason)
        head += f'    <meta name="pypi:project-status-reason" content="{reason}">\n'
    # PEP 792: a quarantined project offers no file.
    offered = () if project.status is ProjectStatus.QUARANTINED else files
    body = f"    <h1>Links for {escape(project.name)}</h1>\n"
    body += "".join(_anchor(file) for file in offered)
    return _page(f"Links for {project.name}", head, body)
