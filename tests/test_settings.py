"""Settings from the environment, secrets kept out of reprs, and WorkerSettings that arq reads."""

from __future__ import annotations

import inspect
import subprocess
import sys

import pytest
from arq.worker import Worker

from mediaworker.config import Settings
from mediaworker.queue.connection import redis_settings


def our_variables() -> set[str]:
    """Every environment variable some section of Settings reads."""
    names = set()
    for section in Settings.model_fields.values():
        model = section.annotation
        for field in getattr(model, "model_fields", {}).values():
            alias = field.validation_alias
            names.update(getattr(alias, "choices", []) or [])
    return {n for n in names if isinstance(n, str)} | {"LOG_LEVEL", "LOG_FORMAT"}


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment that sets none of our variables."""
    for name in our_variables():
        monkeypatch.delenv(name, raising=False)


def test_nothing_needs_to_be_set_to_run_locally() -> None:
    settings = Settings()

    assert settings.redis.dsn() == "redis://localhost:6379/0"
    assert settings.database.dsn().startswith("postgresql://")
    assert settings.storage.type == "local"
    assert settings.queue.max_retries == 3
    assert settings.queue.backoff_delay_ms == 5000
    assert (settings.image.thumbnail_size.width, settings.image.thumbnail_size.height) == (150, 150)


def test_the_original_deployments_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {
        "REDIS_HOST": "cache.internal",
        "REDIS_PORT": "6380",
        "REDIS_PASSWORD": "p@ss/word",
        "DATABASE_URL": "postgresql://app:dbsecret@db:5432/media",
        "STORAGE_TYPE": "s3",
        "WORKER_STORAGE_PATH": "/srv/media",
        "WORKER_STORAGE_BASE_URL": "https://cdn.example.test/media",
        "S3_BUCKET": "uploads",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
        "OPENAI_API_KEY": "sk-test-abcdefghijklmnop",
        "PROMPT_CACHE_TTL_SECONDS": "0",
        "QUEUE_CONCURRENCY": "3",
        "QUEUE_MAX_RETRIES": "5",
        "QUEUE_BACKOFF_DELAY": "1000",
        "IMAGE_MEDIUM_SIZE": "640x480",
        "LOG_LEVEL": "debug",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    s = Settings()

    assert s.redis.dsn() == "redis://:p%40ss%2Fword@cache.internal:6380/0"
    assert s.database.dsn() == env["DATABASE_URL"]
    assert (s.storage.type, str(s.storage.path), s.storage.s3_bucket) == (
        "s3",
        "/srv/media",
        "uploads",
    )
    assert s.storage.base_url == env["WORKER_STORAGE_BASE_URL"]
    assert s.storage.s3_endpoint_url == "http://127.0.0.1:9000"
    assert s.providers.prompt_cache_ttl_s == 0
    assert (s.queue.concurrency, s.queue.max_retries, s.queue.backoff_delay_ms) == (3, 5, 1000)
    assert (s.image.medium_size.width, s.image.medium_size.height) == (640, 480)
    assert s.log_level == "DEBUG"


def test_generic_variables_such_as_path_or_port_are_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PORT", "1")
    monkeypatch.setenv("HOST", "elsewhere")
    monkeypatch.setenv("TYPE", "s3")
    monkeypatch.delenv("WORKER_STORAGE_PATH", raising=False)
    monkeypatch.delenv("STORAGE_TYPE", raising=False)
    monkeypatch.delenv("REDIS_HOST", raising=False)
    monkeypatch.delenv("REDIS_PORT", raising=False)

    s = Settings()

    assert (s.redis.host, s.redis.port, s.storage.type) == ("localhost", 6379, "local")
    assert str(s.storage.path) == "var/storage"


def test_secrets_never_appear_in_reprs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", "redis-secret-1")
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:db-secret-2@h/d")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-3")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-4")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-5")

    s = Settings()
    shown = repr(s) + str(s) + repr(redis_settings(s.redis)) + s.database.safe_dsn()

    for secret in (
        "redis-secret-1",
        "db-secret-2",
        "sk-secret-3",
        "sk-ant-secret-4",
        "aws-secret-5",
    ):
        assert secret not in shown


def test_a_bad_value_is_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUEUE_CONCURRENCY", "zero")
    with pytest.raises(ValueError, match="QUEUE_CONCURRENCY"):
        Settings()


def test_every_worker_settings_key_is_one_arq_reads() -> None:
    from mediaworker.settings import WorkerSettings

    known = set(inspect.signature(Worker).parameters)
    ours = {k for k in vars(WorkerSettings) if not k.startswith("__")}

    assert ours, "WorkerSettings is empty"
    assert ours - known == set(), f"arq would silently ignore {sorted(ours - known)}"
    assert "job_serializer" in ours and "job_deserializer" in ours


def test_importing_the_client_does_not_build_worker_settings() -> None:
    code = "import sys, mediaworker.client; print('mediaworker.settings' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
