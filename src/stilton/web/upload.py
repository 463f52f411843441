"""The legacy upload API (PROTOCOLS.md §3): twine, uv, poetry, pdm, hatch and flit POST here."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from stilton.core.errors import InvalidInput, StiltonError
from stilton.core.filenames import parse_distribution_filename
from stilton.core.permissions import Action
from stilton.indexes.base import Index, Uploader, UploadOutcome
from stilton.web.auth import authorize, client_address
from stilton.web.errors import one_line
from stilton.web.multipart import read_upload_form
from stilton.web.state import WebState, index_of, state_of

logger = logging.getLogger("stilton.upload")


def uploader_of(index: Index) -> Uploader:
    """What takes uploads to ``index``, asked of the index (a policy passes the question on)."""
    uploader = index.uploads()
    if uploader is None:
        raise InvalidInput(
            f"Index {index.name!r} is a {index.kind} index, which takes no uploads; upload to a"
            " hosted index instead."
        )
    return uploader


async def upload(request: Request) -> Response:
    state = state_of(request)
    index = await index_of(request)
    try:
        outcome = await _receive(request, state, index)
    except StiltonError as exc:
        state.metrics.uploaded(index.name, "refused")
        # Some uploaders show only the status line (the reason is in the body): the operator's
        # log says why, on one line, whatever the request sent.
        logger.info("upload to %s refused: %s", index.name, one_line(exc.message))
        raise
    state.metrics.uploaded(index.name, outcome.value)
    return PlainTextResponse("")


async def _receive(request: Request, state: WebState, index: Index) -> UploadOutcome:
    uploader = uploader_of(index)
    # Authorize before reading the body: nobody spools bytes without the right to upload.
    await authorize(request, index, Action.UPLOAD)
    settings = state.runtime.settings
    form = await read_upload_form(
        request, state.runtime.blobs, settings.max_upload_size, settings.upload_idle_timeout
    )
    if form.file is None:
        raise InvalidInput("Upload payload does not have a file.")
    try:
        project = parse_distribution_filename(form.file.filename).project
        principal = await authorize(request, index, Action.UPLOAD, project)
    except BaseException:
        form.file.discard()
        raise
    outcome = await run_in_threadpool(
        uploader.upload, form.file, form.fields, principal.label, client_address(request)
    )
    logger.info(
        "upload %s to %s by %s: %s", form.file.filename, index.name, principal.label, outcome
    )
    return outcome


async def upload_help(request: Request) -> Response:
    """A GET of the upload URL: say how to use it."""
    index = await index_of(request)
    return PlainTextResponse(
        f"This is the upload URL of index {index.name!r}. POST distributions here with twine,"
        " uv publish, poetry, pdm, hatch or flit, as user '__token__' with a token made by"
        f" 'stilton token create --index {index.name}'. Install from"
        f" {request.base_url}{index.name}/simple/\n"
    )


async def legacy_redirect(request: Request) -> Response:
    return RedirectResponse(request.url.path + "/", status_code=308)
