"""The request log: a line per request on ``stilton.access`` (cache hits answered by the fast
path too), who asked but never a secret, and one JSON object per line when asked for."""

from __future__ import annotations

import json
import logging

import pytest
from starlette.testclient import TestClient

from stilton.web.log_format import ACCESS_LOGGER, JsonFormatter, configure_logging
from stilton.web.request_log import AccessRecord
from tests.support.dists import Dist
from tests.web.conftest import Uploader

DIST = Dist("logged-demo", "1.0")


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == ACCESS_LOGGER]


def test_every_request_has_a_line_fast_path_hits_included(
    client: TestClient, uploader: Uploader, caplog: pytest.LogCaptureFixture
) -> None:
    assert uploader.wheel(DIST).status_code == 200
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        first = client.get("/local/simple/logged-demo/")  # rendered by the app
        second = client.get("/local/simple/logged-demo/")  # a cache hit, by the fast path
        missing = client.get("/local/simple/nothing-here/")

    lines = [record.getMessage() for record in access_lines(caplog)]
    assert len(lines) == 3, lines
    without_duration = [line.rsplit(" ", 1)[0] for line in lines]
    expected = f'testclient - "GET /local/simple/logged-demo/" 200 {len(first.content)}'
    assert without_duration[:2] == [expected, expected]
    assert second.content == first.content
    assert lines[2].startswith('testclient - "GET /local/simple/nothing-here/" 404 ')
    assert missing.status_code == 404


def test_a_line_names_the_token_by_id_and_holds_no_secret(
    client: TestClient, uploader: Uploader, token: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        assert uploader.wheel(DIST).status_code == 200
        refused = client.post("/local/", headers={"Authorization": "Basic X19fOmJhZA=="})

    lines = [record.getMessage() for record in access_lines(caplog)]
    assert lines[0].startswith('testclient token:1 "POST /local/" 200 '), lines
    assert refused.status_code == 403
    assert lines[1].startswith('testclient - "POST /local/" 403 '), lines
    assert not any(token in line or token[4:] in line for line in lines)


def test_a_decoded_newline_in_a_path_cannot_forge_a_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS_LOGGER):
        client.get("/local/simple/a%0aFORGED%20line/")

    (line,) = [record.getMessage() for record in access_lines(caplog)]
    assert "\n" not in line and "%0aFORGED%20line" in line


def test_json_lines_carry_the_fields_by_name() -> None:
    record = logging.LogRecord(
        ACCESS_LOGGER,
        logging.INFO,
        __file__,
        1,
        '%s %s "%s %s" %s %s %.1fms',
        ("10.0.0.7", "user:alice", "GET", "/simple/", 200, 512, 1.25),
        None,
    )

    entry = json.loads(JsonFormatter().format(record))

    assert entry["logger"] == ACCESS_LOGGER and entry["level"] == "info"
    assert entry["message"] == '10.0.0.7 user:alice "GET /simple/" 200 512 1.2ms'
    assert {k: entry[k] for k in ("client", "user", "method", "path", "status", "bytes")} == {
        "client": "10.0.0.7",
        "user": "user:alice",
        "method": "GET",
        "path": "/simple/",
        "status": 200,
        "bytes": 512,
    }
    assert entry["duration_ms"] == 1.25


def test_the_request_log_can_be_turned_off() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger(ACCESS_LOGGER).level)
    try:
        configure_logging("info", "json", access_log=False)
        assert not logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
        configure_logging("info", "json", access_log=True)
        assert logging.getLogger(ACCESS_LOGGER).isEnabledFor(logging.INFO)
        assert isinstance(root.handlers[0].formatter, JsonFormatter)
    finally:
        root.handlers, level, access = saved[0], saved[1], saved[2]
        root.setLevel(level)
        logging.getLogger(ACCESS_LOGGER).setLevel(access)


def test_upstream_requests_are_logged_at_debug_only() -> None:
    """httpx's line per upstream request (a URL may carry a signature) waits for debug."""
    root, upstream = logging.getLogger(), logging.getLogger("httpx")
    saved = (root.handlers[:], root.level, upstream.level)
    try:
        configure_logging("info", "text", access_log=True)
        assert not upstream.isEnabledFor(logging.INFO)
        assert upstream.isEnabledFor(logging.WARNING)
        configure_logging("debug", "text", access_log=True)
        assert upstream.isEnabledFor(logging.INFO)
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
        upstream.setLevel(saved[2])


def test_an_access_record_formats_like_any_record() -> None:
    """Operators' formatters may name any of a record's attributes."""
    fields = ("1.2.3.4", "-", "GET", "/", 200, 10, 0.5)
    shape = "%(asctime)s %(process)d %(thread)d %(threadName)s %(module)s %(levelname)s %(message)s"

    line = logging.Formatter(shape).format(AccessRecord(fields))

    assert line.endswith(' request_log INFO 1.2.3.4 - "GET /" 200 10 0.5ms')
