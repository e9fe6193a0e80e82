"""Where the worker keeps things: Redis, PostgreSQL and the storage backend."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

from pydantic import Field, SecretStr

from mediaworker.config.base import Section, env, redact_url


class RedisConfig(Section):
    url: SecretStr | None = Field(None, validation_alias=env("REDIS_URL"))
    host: str = Field("localhost", validation_alias=env("REDIS_HOST"))
    port: int = Field(6379, validation_alias=env("REDIS_PORT"))
    password: SecretStr | None = Field(None, validation_alias=env("REDIS_PASSWORD"))
    database: int = Field(0, validation_alias=env("REDIS_DB"))

    def dsn(self) -> str:
        """The Redis URL, password included: pass it to a client, never to a log."""
        if self.url is not None:
            return self.url.get_secret_value()
        auth = f":{quote(self.password.get_secret_value(), safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.database}"


class DatabaseConfig(Section):
    url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/mediaworker"),
        validation_alias=env("DATABASE_URL"),
    )
    pool_min_size: int = Field(1, validation_alias=env("DATABASE_POOL_MIN"))
    pool_max_size: int = Field(10, validation_alias=env("DATABASE_POOL_MAX"))

    def dsn(self) -> str:
        return self.url.get_secret_value()

    def safe_dsn(self) -> str:
        return redact_url(self.dsn())


class StorageType(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class StorageConfig(Section):
    type: StorageType = Field(StorageType.LOCAL, validation_alias=env("STORAGE_TYPE"))
    path: Path = Field(Path("var/storage"), validation_alias=env("WORKER_STORAGE_PATH"))
    base_url: str | None = Field(None, validation_alias=env("WORKER_STORAGE_BASE_URL"))
    s3_bucket: str = Field("mediaworker", validation_alias=env("S3_BUCKET", "AWS_S3_BUCKET"))
    s3_region: str = Field(
        "us-east-1", validation_alias=env("S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    s3_endpoint_url: str | None = Field(
        None, validation_alias=env("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    )
    s3_access_key_id: SecretStr | None = Field(
        None, validation_alias=env("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    )
    s3_secret_access_key: SecretStr | None = Field(
        None, validation_alias=env("S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
    )
    s3_public_base_url: str | None = Field(None, validation_alias=env("S3_PUBLIC_BASE_URL"))
    s3_multipart_threshold_bytes: int = Field(
        16 * 1024 * 1024, validation_alias=env("S3_MULTIPART_THRESHOLD_BYTES")
    )
    s3_multipart_chunk_bytes: int = Field(
        8 * 1024 * 1024, validation_alias=env("S3_MULTIPART_CHUNK_BYTES")
    )
