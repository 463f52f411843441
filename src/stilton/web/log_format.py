"""How a worker's log lines look: plain text for terminals, or one JSON object per line
(``log_format = "json"``) for log collectors. Lines go to standard error through the standard
``logging`` module, so operators route them (the request log is the logger ``stilton.access``).

Nothing here imports the rest of Stilton: the server's supervising process names
``JsonFormatter`` in Granian's logging configuration too.
"""

from __future__ import annotations

import logging
import threading
import time
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


FLUSH_INTERVAL = 0.5  # seconds a line may wait in the buffer (a warning or worse never waits)
BUFFER_BYTES = 64 * 1024


class BatchedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Standard error, written in batches: a line per request must not cost a system call per
    request on the hot path. Lines are flushed within ``FLUSH_INTERVAL``, at once for warnings
    and worse, and at exit (``logging.shutdown``); a killed process loses at most that much."""

    def __init__(self, fd: int = 2, interval: float = FLUSH_INTERVAL) -> None:
        stream = open(  # noqa: SIM115 - lives as long as the process
            fd, "w", buffering=BUFFER_BYTES, encoding="utf-8", errors="backslashreplace",
            closefd=False,
        )  # fmt: skip
        super().__init__(stream)
        self.interval = interval
        threading.Thread(target=self._flush_often, name="log-flush", daemon=True).start()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.stream.write(self.format(record) + self.terminator)
            if record.levelno >= logging.WARNING:
                self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)

    def _flush_often(self) -> None:
        while True:
            time.sleep(self.interval)
            self.flush()


def flush_logs() -> None:
    """Write out what the handlers hold (a worker's end: a forked worker runs no atexit)."""
    for handler in logging.getLogger().handlers:
        handler.flush()


def formatter(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def configure_logging(level: str, log_format: str, access_log: bool) -> None:
    """One handler on the root logger, writing to standard error in the chosen format. The
    request log's lines are ``info``: shown at that level unless it is turned off."""
    handler = BatchedStreamHandler()
    handler.setFormatter(formatter(log_format))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    access = logging.getLogger(ACCESS_LOGGER)
    access.setLevel(logging.NOTSET if access_log else logging.CRITICAL + 1)
    # httpx says each upstream request at info: a line per file of a cold install, and an
    # upstream URL may carry a signature in its query. Shown at debug only.
    quiet = logging.NOTSET if root.level <= logging.DEBUG else logging.WARNING
    logging.getLogger("httpx").setLevel(quiet)


def granian_logging(log_format: str) -> dict[str, object] | None:
    """Granian's own lines (start, workers) in the same format; None keeps Granian's."""
    if log_format != "json":
        return None
    json_formatter = {"()": f"{__name__}.JsonFormatter"}
    return {"formatters": {"generic": json_formatter, "access": json_formatter}}
