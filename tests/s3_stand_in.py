"""An S3 stand-in for tests: moto's server, in a thread, on 127.0.0.1 and a free port.

One server per test session (`s3_endpoint`); each test that asks for `s3_storage_config`
gets a fresh, empty bucket on it. Nothing is patched in-process: the code under test talks
HTTP to the server exactly as it would to S3, MinIO or R2.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from mediaworker.config import StorageConfig

S3_ACCESS_KEY_ID = "testing"
S3_SECRET_ACCESS_KEY = "testing"  # noqa: S105 - moto accepts any credentials
S3_REGION = "us-east-1"


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The URL of a moto S3 server started for this test session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def make_bucket(endpoint: str, name: str) -> None:
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id=S3_ACCESS_KEY_ID,
        aws_secret_access_key=S3_SECRET_ACCESS_KEY,
    )
    client.create_bucket(Bucket=name)
    client.close()


def s3_config(endpoint: str, bucket: str, **fields: Any) -> StorageConfig:
    """A StorageConfig for `bucket` on the stand-in; `fields` by name override the rest."""
    config = StorageConfig(
        STORAGE_TYPE="s3",
        S3_BUCKET=bucket,
        S3_REGION=S3_REGION,
        S3_ENDPOINT_URL=endpoint,
        S3_ACCESS_KEY_ID=S3_ACCESS_KEY_ID,
        S3_SECRET_ACCESS_KEY=S3_SECRET_ACCESS_KEY,
        S3_PUBLIC_BASE_URL=None,
    )
    return config.model_copy(update=fields)


@pytest.fixture
def s3_storage_config(s3_endpoint: str) -> StorageConfig:
    """A StorageConfig pointing at a fresh, empty bucket on the stand-in."""
    bucket = f"test-{uuid.uuid4().hex[:20]}"
    make_bucket(s3_endpoint, bucket)
    return s3_config(s3_endpoint, bucket)
