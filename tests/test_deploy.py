"""docker-compose.yml has production-shaped defaults: secrets required (never defaulted),
Redis behind a password, workers without DDL rights, migrations as a one-shot owner step,
limits on memory and processes, scratch in a bounded tmpfs, images pinned by version."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE: dict[str, Any] = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
SECRET = re.compile(r"\$\{(?P<name>\w*(?:PASSWORD|SECRET)\w*)(?P<op>[:?-]*)")


def db_user(service: str) -> str:
    match = re.match(r"postgresql://([^:@/]+)", SERVICES[service]["environment"]["DATABASE_URL"])
    assert match, service
    return match.group(1)


def test_every_secret_must_be_given_none_has_a_default() -> None:
    uses = [m.groupdict() for m in SECRET.finditer(COMPOSE_TEXT)]
    assert {u["name"] for u in uses} >= {
        "REDIS_PASSWORD",
        "POSTGRES_PASSWORD",
        "MEDIAWORKER_OWNER_PASSWORD",
        "MEDIAWORKER_WORKER_PASSWORD",
    }
    assert {u["op"] for u in uses} == {":?"}, "a password with a default, or optional"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_image_is_pinned_to_a_version(name: str) -> None:
    image = SERVICES[name]["image"]
    tag = image.partition(":")[2]
    assert tag and tag != "latest" and re.match(r"\d+\.\d+(\.\d+)?(-\w+)?$", tag), image
    if "build" in SERVICES[name]:
        assert tag == VERSION, "the image we build is tagged with the package version"


@pytest.mark.parametrize("name", sorted(SERVICES))
def test_every_service_has_memory_and_process_limits(name: str) -> None:
    service = SERVICES[name]
    assert re.fullmatch(r"\d+[mg]", str(service["mem_limit"])), service.get("mem_limit")
    assert 0 < int(service["pids_limit"]) <= 1024


def test_redis_requires_a_password_and_clients_send_it() -> None:
    redis = SERVICES["redis"]
    assert "--requirepass" in " ".join(redis["command"])
    assert redis["environment"]["REDIS_PASSWORD"].startswith("${REDIS_PASSWORD:?")
    for name in ("worker", "migrate"):
        assert SERVICES[name]["environment"]["REDIS_URL"].startswith("redis://:${REDIS_PASSWORD:?")


def test_workers_connect_as_the_dml_role_and_migrations_run_once_as_the_owner() -> None:
    assert db_user("worker") == "mediaworker_worker"
    assert db_user("migrate") == "mediaworker_owner"
    assert SERVICES["migrate"]["command"] == ["mediaworker", "migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    worker_needs = SERVICES["worker"]["depends_on"]
    assert worker_needs["migrate"]["condition"] == "service_completed_successfully"
    postgres = SERVICES["postgres"]
    mounts = " ".join(postgres["volumes"])
    assert "init-roles.sh:/docker-entrypoint-initdb.d/" in mounts
    assert "roles.sql:/etc/mediaworker/roles.sql" in mounts


def test_worker_scratch_is_a_bounded_tmpfs() -> None:
    [scratch] = SERVICES["worker"]["tmpfs"]
    path, _, options = scratch.partition(":")
    assert path == "/tmp"  # where tempfile puts the scratch folders
    assert re.search(r"size=\d+[mg]", options), scratch


def test_the_example_env_file_names_every_required_secret_without_a_value() -> None:
    example = (ROOT / ".env.example").read_text()
    required = {m["name"] for m in SECRET.finditer(COMPOSE_TEXT)}
    for name in required:
        assert re.search(rf"^{name}=$", example, re.MULTILINE), name
