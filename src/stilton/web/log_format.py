"""How a worker's log lines look: plain text for terminals, or one JSON object per line
(``log_format = "json"``) for log collectors. Lines go to standard error through the standard
``logging`` module, so operators route them (the request log is the logger ``stilton.access``).

Nothing here imports the rest of Stilton: the server's supervising process names
``JsonFormatter`` in Granian's logging configuration too.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime

import orjson

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"
ACCESS_LOGGER = "stilton.access"
# The fields of a request log line, in the order of its arguments (see web/request_log.py).
ACCESS_FIELDS = ("client", "user", "method", "path", "status", "bytes", "duration_ms")


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC), level, logger, message; a request log line
    also has its fields by name; an exception its traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        args = record.args
        if record.name == ACCESS_LOGGER and isinstance(args, tuple):
            entry.update(zip(ACCESS_FIELDS, args, strict=False))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(entry).decode()


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: str, access_log: bool) -> None:
    """One handler on the root logger, writing to standard error in the chosen format. The
    request log's lines are ``info``: shown at that level unless it is turned off."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.NOTSET if access_log else logging.CRITICAL + 1)


def granian_logging(log_format: str) -> dict[str, object] | None:
    """Granian's own lines (start, workers) in the same format; None keeps Granian's."""
    if log_format != "json":
        return None
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    return {"formatters": {"generic": json_formatter, "access": json_formatter}}
