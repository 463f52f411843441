"""Settings of scale-out: the standard AWS_* variables stand in for the s3_* settings, booleans
parse, and no repr shows the database URL or the bucket's secrets."""

from __future__ import annotations

from pathlib import Path

import pytest

from stilton.core.errors import InvalidInput, StorageError
from stilton.runtime import open_blobs
from stilton.settings import Settings
from stilton.storage.object_blobs import S3BlobStore, S3Options

AWS = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_REGION": "eu-west-1",
    "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
    "AWS_SECRET_ACCESS_KEY": "very-secret-key",
    "AWS_ALLOW_HTTP": "true",
}


def test_aws_variables_fill_in_for_missing_settings(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {**AWS, "STILTON_BLOB_URL": "s3://bucket/prefix", "STILTON_S3_REGION": "us-east-2"},
        {"data_dir": tmp_path},
    )
    assert (settings.s3_endpoint, settings.s3_region) == ("http://127.0.0.1:9", "us-east-2")
    assert settings.s3_secret_access_key == "very-secret-key"
    assert settings.s3_allow_http is True
    assert settings.presigned_url_seconds == 0  # streamed unless asked


def test_no_repr_shows_a_secret(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {**AWS, "STILTON_DATABASE_URL": "postgresql+psycopg://u:db-password@h/d"},
        {"data_dir": tmp_path, "blob_url": "s3://bucket/prefix"},
    )
    store = open_blobs(settings)
    options = S3Options("http://x", "r", "AKIDEXAMPLE", "very-secret-key", True)
    for text in (repr(settings), repr(store), repr(options)):
        assert "db-password" not in text and "very-secret-key" not in text
        assert "AKIDEXAMPLE" not in text


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_a_boolean_setting_refuses_other_words(tmp_path: Path, value: str) -> None:
    with pytest.raises(InvalidInput, match="s3_allow_http"):
        Settings.from_env({"STILTON_S3_ALLOW_HTTP": value}, {"data_dir": tmp_path})


def test_a_blob_url_that_is_not_s3_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="s3://bucket/prefix"):
        S3BlobStore("gs://bucket", tmp_path, S3Options())
