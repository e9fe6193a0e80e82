"""Settings, read from the environment in sections, with the names the original deployments used.

Nothing needs to be set to run locally. Secrets are `SecretStr`: they print as `**********`
in reprs and logs. `Settings()` reads the environment when called, never at import time.

The sections live beside this module, grouped: `backends` (Redis, PostgreSQL, storage),
`providers` (AI), `media` (image, ffmpeg, audio, video, AR), `service` (queue, API,
retention, webhooks); `base` holds what they are built from. Import them from here.
"""

from __future__ import annotations

import os

from pydantic import BaseModel, Field

from mediaworker.config.backends import DatabaseConfig, RedisConfig, StorageConfig, StorageType
from mediaworker.config.base import RateLimit, Size, redact_url
from mediaworker.config.media import (
    ArConfig,
    AudioConfig,
    ImageConfig,
    ImageFormat,
    MediaConfig,
    VideoConfig,
)
from mediaworker.config.providers import ProviderChoice, ProvidersConfig
from mediaworker.config.service import ApiConfig, QueueConfig, RetentionConfig, WebhookConfig

__all__ = [
    "ApiConfig",
    "ArConfig",
    "AudioConfig",
    "DatabaseConfig",
    "ImageConfig",
    "ImageFormat",
    "MediaConfig",
    "ProviderChoice",
    "ProvidersConfig",
    "QueueConfig",
    "RateLimit",
    "RedisConfig",
    "RetentionConfig",
    "Settings",
    "Size",
    "StorageConfig",
    "StorageType",
    "VideoConfig",
    "WebhookConfig",
    "redact_url",
]


class Settings(BaseModel):
    """All settings, by section. `Settings()` reads the environment now."""

    model_config = {"frozen": True}

    redis: RedisConfig = Field(default_factory=lambda: RedisConfig())
    database: DatabaseConfig = Field(default_factory=lambda: DatabaseConfig())
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig())
    providers: ProvidersConfig = Field(default_factory=lambda: ProvidersConfig())
    queue: QueueConfig = Field(default_factory=lambda: QueueConfig())
    image: ImageConfig = Field(default_factory=lambda: ImageConfig())
    media: MediaConfig = Field(default_factory=lambda: MediaConfig())
    audio: AudioConfig = Field(default_factory=lambda: AudioConfig())
    video: VideoConfig = Field(default_factory=lambda: VideoConfig())
    ar: ArConfig = Field(default_factory=lambda: ArConfig())
    api: ApiConfig = Field(default_factory=lambda: ApiConfig())
    retention: RetentionConfig = Field(default_factory=lambda: RetentionConfig())
    webhooks: WebhookConfig = Field(default_factory=lambda: WebhookConfig())
    log_level: str = Field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())
    log_format: str = Field(default_factory=lambda: os.environ.get("LOG_FORMAT", "json").lower())
