"""Backend pairs for the storage contract suite and the replica tests: which database and
which blob store a Stilton uses, as settings for an in-process runtime or as STILTON_*
variables for a server process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stilton.settings import Settings
from tests.support.s3 import ACCESS_KEY, REGION, SECRET_KEY

CLOSED_UPSTREAM = "http://127.0.0.1:9/simple/"


@dataclass(frozen=True)
class Backend:
    name: str
    database_url: str = ""  # empty: SQLite in the data directory
    blob_url: str = ""  # empty: a local directory
    s3: dict[str, str] = field(default_factory=dict)  # s3_* settings

    def values(self) -> dict[str, str]:
        found = {"database_url": self.database_url, "blob_url": self.blob_url, **self.s3}
        return {key: value for key, value in found.items() if value}

    def settings(self, data_dir: Path, **overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "default_upstream": CLOSED_UPSTREAM,
            "generation_poll_interval": 0,
            **self.values(),
            **overrides,
        }
        return Settings.from_env({}, values)

    def server_settings(self) -> dict[str, str]:
        """For ``StiltonServer(settings=...)``: the same choice as STILTON_* variables."""
        return self.values()


def s3_values(endpoint: str) -> dict[str, str]:
    return {
        "s3_endpoint": endpoint,
        "s3_region": REGION,
        "s3_access_key_id": ACCESS_KEY,
        "s3_secret_access_key": SECRET_KEY,
        "s3_allow_http": "true",
    }


def s3_backend(name: str, database_url: str, endpoint: str, bucket: str) -> Backend:
    """Objects under a prefix of their own in a shared bucket."""
    prefix = uuid.uuid4().hex[:12]
    return Backend(name, database_url, f"s3://{bucket}/{prefix}", s3_values(endpoint))
