"""The API's guard: tokens, roles, body limits, error answers without traces or secrets."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from arq.connections import ArqRedis

from conftest import (
    ADMIN_TOKEN,
    DATABASE_URL,
    PRODUCER_TOKEN,
    api_client,
    api_settings,
)
from mediaworker.config import DatabaseConfig, Settings
from mediaworker.db.pool import Pool
from mediaworker.web.app import create_app
from tcp_proxy import TcpProxy

OPEN_PATHS = {"/healthz", "/readyz"}


def every_route(settings: Settings) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI schema, and the docs themselves."""
    found = [("GET", "/openapi.json"), ("GET", "/docs")]
    for path, operations in create_app(settings).openapi()["paths"].items():
        path = path.replace("{job_id}", "some-job").replace("{media_id}", "m1")
        found += [(method.upper(), path) for method in operations]
    return found


@pytest.fixture
async def anonymous(settings: Settings, db: Pool, redis: ArqRedis) -> AsyncIterator[Any]:
    async with api_client(api_settings(settings), token=None) as http:
        yield http


async def test_health_answers_without_a_token(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    ready = await anonymous.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "redis": "up", "postgres": "up"}


async def test_every_other_route_refuses_without_a_token(
    anonymous: httpx.AsyncClient, settings: Settings
) -> None:
    routes = [(m, p) for m, p in every_route(api_settings(settings)) if p not in OPEN_PATHS]
    assert len(routes) >= 8 and ("GET", "/openapi.json") in routes
    for method, path in routes:
        answer = await anonymous.request(method, path)
        assert answer.status_code == 401, (method, path)
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["error"]["code"] == "UNAUTHORIZED"


async def test_a_wrong_or_malformed_token_is_refused(anonymous: httpx.AsyncClient) -> None:
    for header in (
        f"Bearer {PRODUCER_TOKEN}x",
        f"Bearer {PRODUCER_TOKEN[:-1]}",
        f"Basic {PRODUCER_TOKEN}",
        "Bearer",
        "Bearer ünïcode".encode("latin-1"),
    ):
        answer = await anonymous.get("/v1/stats", headers={"Authorization": header})
        assert answer.status_code == 401, header


async def test_with_no_tokens_configured_nothing_gets_in(
    settings: Settings, db: Pool, redis: ArqRedis
) -> None:
    closed = api_settings(settings, API_TOKENS="", ADMIN_TOKENS="")
    async with api_client(closed, token="") as http:
        for token in ("", " ", "None"):
            answer = await http.get("/v1/stats", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 401


async def test_a_producer_token_cannot_retry_or_cancel(http_api: httpx.AsyncClient) -> None:
    for method, path in (
        ("POST", "/v1/jobs/some-job/retry"),
        ("POST", "/v1/jobs/retry-failed"),
        ("DELETE", "/v1/jobs/some-job"),
    ):
        answer = await http_api.request(method, path)
        assert answer.status_code == 403, path
        assert answer.json()["error"] == {
            "code": "FORBIDDEN",
            "message": "this action needs an admin token",
        }


async def test_an_admin_token_may_do_what_a_producer_may(http_api: httpx.AsyncClient) -> None:
    answer = await http_api.get("/v1/stats", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert answer.status_code == 200


async def test_openapi_and_docs_are_served_to_a_token_holder(http_api: httpx.AsyncClient) -> None:
    schema = (await http_api.get("/openapi.json")).json()
    assert schema["info"]["title"] == "mediaworker"
    assert "/v1/jobs/{job_id}" in schema["paths"] and "/v1/media" in schema["paths"]
    assert "HTTPBearer" in schema["components"]["securitySchemes"]
    docs = await http_api.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


async def test_a_body_over_the_limit_is_refused_before_it_is_read(
    settings: Settings, db: Pool, redis: ArqRedis
) -> None:
    small = api_settings(settings, API_MAX_BODY_BYTES=1000, API_MAX_UPLOAD_BYTES=5000)
    async with api_client(small) as http:
        declared = await http.post("/v1/jobs/generate_thumbnails", content=b"x" * 1001)

        async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked
            yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
            for _ in range(100):
                yield b"y" * 100

        streamed = await http.post(
            "/v1/media",
            content=chunks(),
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
    for answer in (declared, streamed):
        assert answer.status_code == 413
        assert answer.json()["error"]["code"] == "TOO_LARGE"


async def test_errors_have_one_shape_and_no_trace(http_api: httpx.AsyncClient) -> None:
    missing = await http_api.get("/v1/nothing-here")
    bad_state = await http_api.get("/v1/jobs", params={"state": "exploded"})
    bad_cursor = await http_api.get("/v1/jobs", params={"after": "nonsense"})
    bad_id = await http_api.get("/v1/jobs/" + "%2e%2e%2fetc")

    assert missing.status_code == 404 and missing.json()["error"]["code"] == "NOT_FOUND"
    assert bad_state.status_code == 422
    assert bad_state.json()["error"]["fields"][0]["loc"] == ["query", "state"]
    assert "input" not in bad_state.json()["error"]["fields"][0]
    assert bad_cursor.status_code == 400
    assert bad_id.status_code in (404, 422)
    for answer in (missing, bad_state, bad_cursor, bad_id):
        assert "Traceback" not in answer.text and 'File "' not in answer.text


async def test_readyz_says_which_dependency_is_down(
    settings: Settings, db: Pool, redis: ArqRedis
) -> None:
    target = urlsplit(DATABASE_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 5432)
    await proxy.up()
    proxied = target._replace(netloc=f"{target.username}@127.0.0.1:{proxy.port}").geturl()
    through_proxy = api_settings(settings).model_copy(
        update={"database": DatabaseConfig(DATABASE_URL=proxied)}
    )
    async with api_client(through_proxy, token=None) as http:
        await proxy.down()
        answer = await http.get("/readyz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "unavailable", "redis": "up", "postgres": "down"}
    assert "password" not in answer.text


def test_tokens_never_show_in_a_repr(settings: Settings) -> None:
    shown = repr(api_settings(settings)) + str(api_settings(settings).api.model_dump())
    assert PRODUCER_TOKEN not in shown and ADMIN_TOKEN not in shown
