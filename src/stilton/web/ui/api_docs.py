"""``/api/docs``: the admin API's OpenAPI schema as a page of its own, rendered on the server,
so it works offline (FastAPI's default page loads its script from a CDN)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stilton.web.ui.index_page import base_url
from stilton.web.ui.render import page
from stilton.web.ui.state import ui_of

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True, slots=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[dict[str, Any]]
    body: str | None
    responses: list[tuple[str, str]]

    @property
    def anchor(self) -> str:
        return re.sub(r"[^a-z0-9]+", "-", f"{self.method} {self.path}".lower()).strip("-")


def _schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, sort_keys=True)


def _body(spec: dict[str, Any]) -> str | None:
    content = (spec.get("requestBody") or {}).get("content") or {}
    for media in content.values():
        return _schema_text(media.get("schema") or {})
    return None


def operations(schema: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in (schema.get("paths") or {}).items():
        for method in METHODS:
            spec = item.get(method)
            if spec is None:
                continue
            parameters = [
                {**p, "schema": _schema_text(p.get("schema") or {}) if p.get("schema") else ""}
                for p in spec.get("parameters") or []
            ]
            responses = [
                (str(code), str(value.get("description", "")))
                for code, value in (spec.get("responses") or {}).items()
            ]
            found.append(
                Operation(
                    method, path, spec.get("summary", ""), spec.get("description", ""),
                    parameters, _body(spec), responses,
                )
            )  # fmt: skip
    return found


async def api_docs(request: Request) -> Response:
    schema = ui_of(request).api_schema()
    schemas = sorted(
        (name, _schema_text(value))
        for name, value in ((schema.get("components") or {}).get("schemas") or {}).items()
    )
    return page(
        request,
        "api_docs.html",
        schema=schema,
        operations=operations(schema),
        schemas=schemas,
        base_url=base_url(request),
    )
