"""How the worker runs and what it serves: the queue, the HTTP API, retention, webhooks."""

from __future__ import annotations

import base64
import binascii
import os

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from mediaworker.config.base import (
    EnvSecrets,
    EnvTargets,
    Section,
    env,
    parse_secrets,
    parse_targets,
)


class QueueConfig(Section):
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
    # RLIMIT_DATA of each CPU pool process: a task that needs more fails alone (BAD_INPUT).
    cpu_worker_max_memory_bytes: int = Field(
        1024**3, ge=64 * 1024**2, validation_alias=env("CPU_WORKER_MAX_MEMORY_BYTES")
    )
    # The worker's /metrics, /healthz, /readyz (health.py); port 0: not served. They have no
    # authentication: this host only, unless the deployment opens them (METRICS_HOST=0.0.0.0).
    metrics_port: int = Field(0, ge=0, validation_alias=env("METRICS_PORT"))
    metrics_host: str = Field("127.0.0.1", min_length=1, validation_alias=env("METRICS_HOST"))
    reconcile_idle_s: float = Field(60, ge=0, validation_alias=env("QUEUE_RECONCILE_IDLE_S"))


class ApiConfig(Section):
    """The HTTP API (`mediaworker serve`): where it listens, who may call it, body limits.

    API_TOKENS may enqueue and read; ADMIN_TOKENS may also retry and cancel. With neither
    set, every route but /healthz and /readyz answers 401 (/openapi.json and /docs too,
    unless API_PUBLIC_DOCS=true).
    """

    host: str = Field("127.0.0.1", validation_alias=env("API_HOST"))
    port: int = Field(8080, ge=0, le=65535, validation_alias=env("API_PORT"))
    tokens: EnvSecrets = Field((), validation_alias=env("API_TOKENS"))
    admin_tokens: EnvSecrets = Field((), validation_alias=env("ADMIN_TOKENS"))
    max_body_bytes: int = Field(256 * 1024, gt=0, validation_alias=env("API_MAX_BODY_BYTES"))
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, validation_alias=env("API_MAX_UPLOAD_BYTES"))
    max_page_size: int = Field(200, ge=1, validation_alias=env("API_MAX_PAGE_SIZE"))
    public_docs: bool = Field(False, validation_alias=env("API_PUBLIC_DOCS"))

    _secrets = field_validator("tokens", "admin_tokens", mode="before")(parse_secrets)


class RetentionConfig(Section):
    """How long the ledger keeps finished jobs (as the original deployments' removeOnComplete
    and removeOnFail: the newest N per function whatever their age, the rest until max age),
    and job_runs and ai_metrics rows. Active jobs are never removed."""

    completed_keep: int = Field(100, ge=0, validation_alias=env("RETENTION_COMPLETED_COUNT"))
    completed_age_s: float = Field(86400, ge=0, validation_alias=env("RETENTION_COMPLETED_AGE_S"))
    failed_keep: int = Field(50, ge=0, validation_alias=env("RETENTION_FAILED_COUNT"))
    failed_age_s: float = Field(7 * 86400, ge=0, validation_alias=env("RETENTION_FAILED_AGE_S"))
    history_days: float = Field(30, gt=0, validation_alias=env("RETENTION_HISTORY_DAYS"))


class WebhookConfig(Section):
    """Completion webhooks (events/): signed per Standard Webhooks, delivered from an outbox.

    A job's own `webhook_url` wins; else WEBHOOK_URLS names a target per function; else
    WEBHOOK_URL is the target of every job a producer enqueues (not of internal jobs).
    """

    model_config = SettingsConfigDict(  # an error never echoes the secret it refused
        extra="ignore", case_sensitive=False, frozen=True, hide_input_in_errors=True
    )

    secret: SecretStr | None = Field(None, validation_alias=env("WEBHOOK_SECRET"))  # whsec_...
    url: str | None = Field(None, validation_alias=env("WEBHOOK_URL"))
    urls: EnvTargets = Field(default_factory=dict, validation_alias=env("WEBHOOK_URLS"))
    # Private, loopback and link-local targets are refused unless this is on (tests, dev).
    allow_private: bool = Field(False, validation_alias=env("WEBHOOK_ALLOW_PRIVATE"))
    connect_timeout_s: float = Field(
        3, gt=0, le=30, validation_alias=env("WEBHOOK_CONNECT_TIMEOUT_S")
    )
    timeout_s: float = Field(10, gt=0, le=60, validation_alias=env("WEBHOOK_TIMEOUT_S"))
    max_body_bytes: int = Field(256 * 1024, ge=1024, validation_alias=env("WEBHOOK_MAX_BODY_BYTES"))
    # An event PENDING this long without a try has lost its delivery job: enqueue it again.
    requeue_idle_s: float = Field(600, gt=0, validation_alias=env("WEBHOOK_REQUEUE_IDLE_S"))

    _targets = field_validator("urls", mode="before")(parse_targets)

    @field_validator("secret")
    @classmethod
    def _whsec(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not _is_whsec(value.get_secret_value()):
            raise ValueError("WEBHOOK_SECRET must be 'whsec_' followed by base64 key bytes")
        return value

    def target_for(self, function: str) -> str | None:
        """The default target of `function`'s webhooks, if any."""
        return self.urls.get(function) or self.url


def _is_whsec(text: str) -> bool:
    if not text.startswith("whsec_"):
        return False
    try:
        return len(base64.b64decode(text[len("whsec_") :] + "==", validate=False)) >= 16
    except (binascii.Error, ValueError):
        return False
