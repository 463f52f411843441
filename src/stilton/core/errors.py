"""The one error tree of Stilton; the web layer maps it to HTTP statuses in one place."""

from __future__ import annotations

import math
from datetime import datetime


class StiltonError(Exception):
    """Base of every error Stilton raises on purpose; ``message`` is meant for a person."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InvalidInput(StiltonError):
    """The request or command cannot be carried out as given (HTTP 400)."""


class FileAlreadyExists(InvalidInput):
    """A filename is taken in an index by other bytes, or was used by a deleted file."""

    def __init__(self, filename: str, blake2b_256: str, *, deleted: bool = False) -> None:
        self.filename = filename
        self.blake2b_256 = blake2b_256
        self.deleted = deleted
        # twine and poetry look for "File already exists" to implement --skip-existing.
        message = f"File already exists ('{filename}', with blake2_256 hash '{blake2b_256}')."
        if deleted:
            message += (
                " This filename was previously used by a file that has since been deleted;"
                " a filename can never hold other bytes. Use a different version."
            )
        else:
            message += " A filename can never hold other bytes; use a different version."
        super().__init__(message)


class FileTooLarge(InvalidInput):
    """An upload is over the configured size limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            f"File too large. Limit for this index is {limit} bytes ({limit / 2**20:.0f} MiB)."
        )


class IncompleteRequest(InvalidInput):
    """A request body that did not arrive whole; nothing of it was kept."""

    def __init__(self, message: str, received: int) -> None:
        self.received = received  # bytes of the body that did arrive
        super().__init__(message)


class ClientDisconnected(IncompleteRequest):
    """The client went away in the middle of its request body (nobody reads the answer)."""

    def __init__(self, received: int) -> None:
        super().__init__(
            f"The client disconnected after sending {received} bytes of the request body; the"
            " upload was abandoned and nothing was stored.",
            received,
        )


class RequestTimeout(IncompleteRequest):
    """No byte of a request body arrived for too long (HTTP 408)."""

    def __init__(self, idle_seconds: float, received: int) -> None:
        self.idle_seconds = idle_seconds
        super().__init__(
            f"Request timeout: the request body stopped arriving (nothing for {idle_seconds:g} s"
            f" after {received} bytes), so the upload was abandoned and nothing was stored. Send"
            " the whole body, as long as its Content-Length says, without pausing.",
            received,
        )


class NotAcceptable(StiltonError):
    """No representation the client accepts is available (HTTP 406)."""


class NotFound(StiltonError):
    """The thing asked for does not exist (HTTP 404)."""


class Gone(StiltonError):
    """The action is no longer supported (HTTP 410)."""


class Conflict(StiltonError):
    """The change contradicts the current state (HTTP 409)."""


class Unauthenticated(StiltonError):
    """No credentials, or credentials that match nobody (HTTP 403 on uploads)."""


class PermissionDenied(StiltonError):
    """Known credentials that may not do this (HTTP 403)."""


class RangeNotSatisfiable(StiltonError):
    """A byte range outside the file (HTTP 416)."""

    def __init__(self, size: int) -> None:
        self.size = size
        super().__init__(f"Requested range not satisfiable; the file has {size} bytes.")


class StorageError(StiltonError):
    """The database or blob store failed (HTTP 503)."""


class InsufficientStorage(StorageError):
    """The disk (or quota) holding Stilton's data is full (HTTP 507); nothing was stored."""

    def __init__(self, location: str) -> None:
        self.location = location  # "the data directory (<path>)", or the database server's
        super().__init__(
            f"Insufficient storage: the disk holding {location} is full, so nothing was"
            " stored. Free space on it, then try again."
        )


class UpstreamError(StiltonError):
    """An upstream repository failed, or sent something unusable (HTTP 502)."""


class UpstreamTimeout(UpstreamError):
    """An upstream repository did not answer in time (HTTP 504)."""


class UpstreamUnavailable(UpstreamError):
    """A request not sent: the upstream is marked unhealthy after failing again and again, and
    is only retried in the background (HTTP 503 with Retry-After, or a stale page at once)."""

    def __init__(
        self,
        index: str,
        url: str,  # redacted
        failures: int,
        since: datetime,
        last_error: str | None,
        retry_at: datetime,
        now: datetime,
    ) -> None:
        self.index = index
        self.url = url
        self.failures = failures
        self.since = since
        self.last_error = last_error
        self.retry_at = retry_at
        self.retry_after = max(math.ceil((retry_at - now).total_seconds()), 1)  # seconds
        # "marked unhealthy" first: a stale page's header keeps only the start of a reason.
        super().__init__(
            f"Upstream marked unhealthy: proxy index {index!r} ({url}) failed {failures} time(s)"
            f" in a row since {since.isoformat(timespec='seconds')}, so it is not asked now;"
            f" it is retried in the background at {retry_at.isoformat(timespec='seconds')}"
            f" (in {self.retry_after} s). Last failure: {last_error}"
        )


class DigestMismatch(UpstreamError):
    """Bytes from an upstream do not match the digest it advertised; they are never kept."""

    def __init__(self, filename: str, algorithm: str, expected: str, actual: str) -> None:
        self.filename = filename
        self.algorithm = algorithm
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"The upstream's {filename!r} does not match its advertised {algorithm}"
            f" ({expected}); got {actual}. The file was not kept; try again later or ask the"
            " upstream's operators."
        )


class AuthenticationRequired(StiltonError):
    """Reading needs credentials (HTTP 401 with a Basic challenge, so pip asks its keyring)."""


class TooManyAttempts(StiltonError):
    """Too many failed authentications from one address (HTTP 429)."""

    def __init__(self, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"Too many failed authentication attempts from this address; try again in"
            f" {retry_after} seconds."
        )
