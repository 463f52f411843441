"""Blobs in an S3-protocol bucket, through obstore: each replica spools locally (its data
directory then holds only spool files), and a verified spool file is put under its sha256
before any row names it. Files reach clients streamed by Stilton or, when the operator says so,
through a redirect to a short-lived presigned URL.

obstore's errors are translated here, once, into ``StorageError`` naming the bucket and what
failed; credentials never appear in them, nor in this store's repr.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import obstore
from obstore.store import S3Store

from stilton.core.errors import StorageError
from stilton.storage.blob_reader import open_range_reader
from stilton.storage.blobs import (
    BLOB_PREFIX,
    CHUNK,
    BlobEntry,
    Delivery,
    RedirectTo,
    StreamBlob,
    blob_key,
)
from stilton.storage.spool_files import (
    SpoolFile,
    find_abandoned_spool_files,
    open_spool_file,
    sweep_spool_files,
)

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

T = TypeVar("T")
PROBE_PREFIX = "ready-probes/"
CONNECT_TIMEOUT = timedelta(seconds=5)
REQUEST_TIMEOUT = timedelta(seconds=300)  # one request, a large multipart part included
RETRIES = 3
RETRY_TIMEOUT = timedelta(seconds=15)


@dataclass(frozen=True, slots=True)
class S3Options:
    """Where the bucket is and who Stilton is there; empty values are left to obstore's own
    reading of the standard AWS_* variables."""

    endpoint: str = ""
    region: str = ""
    access_key_id: str = field(default="", repr=False)
    secret_access_key: str = field(default="", repr=False)
    allow_http: bool = False


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _shorten(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first[:300]


class S3BlobStore:
    def __init__(
        self, url: str, spool_dir: Path, options: S3Options, presign_seconds: int = 0
    ) -> None:
        if not url.startswith("s3://") or len(url) <= len("s3://"):
            raise StorageError(f"blob_url {url!r} is not of the form s3://bucket/prefix.")
        self.url = url.rstrip("/")
        self.spool_dir = spool_dir
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        self._presign = timedelta(seconds=presign_seconds) if presign_seconds > 0 else None
        self._store = self._open(options)

    def __repr__(self) -> str:
        return f"S3BlobStore({self.url!r})"

    def _open(self, options: S3Options) -> S3Store:
        config: S3Config = {}
        if options.endpoint:
            config["endpoint"] = options.endpoint
        if options.region:
            config["region"] = options.region
        if options.access_key_id:
            config["access_key_id"] = options.access_key_id
        if options.secret_access_key:
            config["secret_access_key"] = options.secret_access_key
        client: ClientConfig = {"connect_timeout": CONNECT_TIMEOUT, "timeout": REQUEST_TIMEOUT}
        if options.allow_http:
            client["allow_http"] = True
        retry: RetryConfig = {"max_retries": RETRIES, "retry_timeout": RETRY_TIMEOUT}
        try:
            return S3Store.from_url(
                self.url, config=config, client_options=client, retry_config=retry
            )
        except Exception as exc:  # obstore's configuration errors
            raise StorageError(f"Cannot use the bucket {self.url}: {_shorten(exc)}") from exc

    def _call(self, action: str, operation: Callable[[], T], *, lookup: bool = False) -> T:
        """Run one request; obstore's errors become StorageError. A lookup's missing object
        stays FileNotFoundError, for the caller to judge; a write's (no such bucket) is not."""
        try:
            return operation()
        except FileNotFoundError:
            if lookup:
                raise
            raise StorageError(
                f"The bucket {self.url} could not {action}: it does not exist (or the store"
                " answers as if it did not). Create it, or correct blob_url."
            ) from None
        except Exception as exc:
            raise StorageError(
                f"The bucket {self.url} could not {action}: {_shorten(exc)}. Check that it is"
                " reachable and that Stilton's credentials may read and write it."
            ) from exc

    # -- writing -----------------------------------------------------------------------------

    def open_spool(self) -> SpoolFile:
        return open_spool_file(self.spool_dir)

    def sweep_spool(self) -> list[Path]:
        return sweep_spool_files(self.spool_dir)

    def find_abandoned_spool(self) -> list[Path]:
        return find_abandoned_spool_files(self.spool_dir)

    def put_spooled(self, spool: SpoolFile, sha256: str) -> None:
        """Put the verified spool file; the local copy goes once the object is there."""
        spool.close()
        self._call(
            f"store blob {sha256}", lambda: obstore.put(self._store, blob_key(sha256), spool.path)
        )
        spool.discard()

    def put_bytes(self, data: bytes, sha256: str) -> None:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StorageError(f"Refusing to store bytes under the wrong digest {sha256}.")
        self._call(f"store blob {sha256}", lambda: obstore.put(self._store, blob_key(sha256), data))

    def delete(self, sha256: str) -> None:
        try:
            self._call(
                f"delete blob {sha256}",
                lambda: obstore.delete(self._store, blob_key(sha256)),
                lookup=True,
            )
        except FileNotFoundError:
            return

    def delete_unused(
        self, sha256: str, written_before: datetime, unused: Callable[[], bool]
    ) -> bool:
        """A bucket has no atomic rename: the object's age and the rows are checked right
        before the delete, one request apart (a writer putting the same bytes in that moment,
        after a grace period of them lying unused, is the one case left open)."""
        try:
            meta = self._call(
                "look up a blob", lambda: obstore.head(self._store, blob_key(sha256)), lookup=True
            )
        except FileNotFoundError:
            return False
        if _utc(meta["last_modified"]) >= written_before or not unused():
            return False
        self.delete(sha256)
        return True

    def restore_held(self) -> list[str]:
        return []  # nothing is taken out of reach in a bucket

    # -- reading -----------------------------------------------------------------------------

    def stat(self, sha256: str) -> int | None:
        try:
            meta = self._call(
                "look up a blob", lambda: obstore.head(self._store, blob_key(sha256)), lookup=True
            )
        except FileNotFoundError:
            return None
        return int(meta["size"])

    def exists(self, sha256: str) -> bool:
        return self.stat(sha256) is not None

    def still_stored(self, sha256: str) -> bool:
        return True  # a request per cached lookup would undo the cache; reads find a gap

    def delivery(self, sha256: str, size: int) -> Delivery:
        if self._presign is None:
            return StreamBlob(sha256, size)
        expires = self._presign
        url = self._call(
            "sign a URL", lambda: obstore.sign(self._store, "GET", blob_key(sha256), expires)
        )
        return RedirectTo(url)

    def _range(self, sha256: str, start: int, end: int) -> bytes:
        """Bytes ``start`` up to ``end`` (exclusive)."""
        try:
            data = self._call(
                f"read blob {sha256}",
                lambda: obstore.get_range(self._store, blob_key(sha256), start=start, end=end),
                lookup=True,
            )
        except FileNotFoundError as exc:
            raise StorageError(f"Blob {sha256} is missing from the bucket {self.url}.") from exc
        return bytes(data)

    def iter_range(self, sha256: str, start: int, end: int) -> Iterator[bytes]:
        offset = start
        while offset <= end:
            chunk = self._range(sha256, offset, min(offset + CHUNK, end + 1))
            if not chunk:
                return
            yield chunk
            offset += len(chunk)

    def open_reader(self, sha256: str, size: int) -> BinaryIO:
        return open_range_reader(lambda start, end: self._range(sha256, start, end), size)

    def read(self, sha256: str) -> bytes:
        try:
            result = self._call(
                f"read blob {sha256}",
                lambda: obstore.get(self._store, blob_key(sha256)),
                lookup=True,
            )
            return bytes(result.bytes())
        except FileNotFoundError as exc:
            raise StorageError(f"Blob {sha256} is missing from the bucket {self.url}.") from exc

    def list_blobs(self) -> Iterator[tuple[str, int]]:
        for entry in self.list_entries():
            yield entry.sha256, entry.size

    def list_entries(self) -> Iterator[BlobEntry]:
        pages = self._call(
            "list blobs", lambda: list(obstore.list(self._store, prefix=BLOB_PREFIX))
        )
        for page in pages:
            for meta in page:
                name = str(meta["path"]).rsplit("/", 1)[-1]
                if len(name) == 64:
                    yield BlobEntry(name, int(meta["size"]), _utc(meta["last_modified"]))

    def check(self) -> None:
        """Reachable and writable: a probe object is put and deleted."""
        probe = f"{PROBE_PREFIX}{uuid.uuid4().hex}"
        self._call("be written (readiness probe)", lambda: obstore.put(self._store, probe, b""))
        self._call("delete a readiness probe", lambda: obstore.delete(self._store, probe))
