"""Settings, read from the environment in sections, with the names the original deployments used.

Nothing needs to be set to run locally. Secrets are `SecretStr`: they print as `**********`
in reprs and logs. `Settings()` reads the environment when called, never at import time.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class _Section(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)


class RedisConfig(_Section):
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


class DatabaseConfig(_Section):
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


class StorageConfig(_Section):
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


class ProvidersConfig(_Section):
    openai_api_key: SecretStr | None = Field(None, validation_alias=env("OPENAI_API_KEY"))
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=env("ANTHROPIC_API_KEY"))
    prompt_cache_ttl_s: int = Field(600, validation_alias=env("PROMPT_CACHE_TTL_SECONDS"))


class QueueConfig(_Section):
    concurrency: int = Field(10, ge=1, validation_alias=env("QUEUE_CONCURRENCY"))
    max_retries: int = Field(3, ge=0, validation_alias=env("QUEUE_MAX_RETRIES"))
    backoff_delay_ms: int = Field(5000, ge=0, validation_alias=env("QUEUE_BACKOFF_DELAY"))
    poll_delay_ms: int = Field(10, ge=1, validation_alias=env("QUEUE_POLL_DELAY_MS"))
    job_timeout_s: float = Field(300, gt=0, validation_alias=env("JOB_TIMEOUT_S"))
    keep_result_s: int = Field(3600, ge=0, validation_alias=env("QUEUE_KEEP_RESULT_S"))
    job_expires_s: int = Field(86400, gt=0, validation_alias=env("QUEUE_JOB_EXPIRES_S"))
    drain_timeout_s: int = Field(30, ge=0, validation_alias=env("WORKER_DRAIN_TIMEOUT_S"))
    health_check_interval_s: int = Field(30, ge=1, validation_alias=env("HEALTH_CHECK_INTERVAL_S"))
    cpu_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, validation_alias=env("CPU_WORKERS")
    )
    metrics_port: int = Field(0, ge=0, validation_alias=env("METRICS_PORT"))
    reconcile_idle_s: float = Field(60, ge=0, validation_alias=env("QUEUE_RECONCILE_IDLE_S"))


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    WEBP = "webp"
    AVIF = "avif"


class Size(BaseModel):
    model_config = {"frozen": True}
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)


EnvSize = Annotated[Size, NoDecode]  # "800x600" in the environment, not JSON


def _parse_size(value: Any) -> Any:
    if isinstance(value, str):
        w, _, h = value.lower().partition("x")
        return {"width": int(w), "height": int(h)}
    return value


class ImageConfig(_Section):
    thumbnail_size: EnvSize = Field(
        Size(width=150, height=150), validation_alias=env("IMAGE_THUMBNAIL_SIZE")
    )
    medium_size: EnvSize = Field(
        Size(width=800, height=600), validation_alias=env("IMAGE_MEDIUM_SIZE")
    )
    large_size: EnvSize = Field(
        Size(width=1920, height=1080), validation_alias=env("IMAGE_LARGE_SIZE")
    )
    format: ImageFormat = Field(ImageFormat.JPEG, validation_alias=env("IMAGE_FORMAT"))
    quality: int = Field(82, ge=1, le=100, validation_alias=env("IMAGE_QUALITY"))
    max_input_bytes: int = Field(
        100 * 1024 * 1024, gt=0, validation_alias=env("IMAGE_MAX_INPUT_BYTES")
    )
    max_pixels: int = Field(100_000_000, gt=0, validation_alias=env("IMAGE_MAX_PIXELS"))
    timeout_s: float = Field(120, gt=0, validation_alias=env("IMAGE_TIMEOUT_S"))

    _sizes = field_validator("thumbnail_size", "medium_size", "large_size", mode="before")(
        _parse_size
    )


class Settings(BaseModel):
    """All settings, by section. `Settings()` reads the environment now."""

    model_config = {"frozen": True}

    redis: RedisConfig = Field(default_factory=lambda: RedisConfig())
    database: DatabaseConfig = Field(default_factory=lambda: DatabaseConfig())
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig())
    providers: ProvidersConfig = Field(default_factory=lambda: ProvidersConfig())
    queue: QueueConfig = Field(default_factory=lambda: QueueConfig())
    image: ImageConfig = Field(default_factory=lambda: ImageConfig())
    log_level: str = Field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())
    log_format: str = Field(default_factory=lambda: os.environ.get("LOG_FORMAT", "json").lower())


def redact_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
