"""Webhook targets: http(s) only, the job option before the function's default, and never a
loopback, private or link-local address (written, or resolved from a name) unless allowed."""

from __future__ import annotations

import pytest
from arq.connections import ArqRedis

from mediaworker import registry
from mediaworker.errors import ErrorCode, map_error
from mediaworker.events import delivery, targets
from mediaworker.events.webhooks import body_of, signed_headers, target_of
from mediaworker.queue import keys
from webhook_receiver import Receiver, hook_config

REFUSED_TARGETS = [
    "http://127.0.0.1:{port}/hook",
    "http://10.1.2.3:{port}/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]:{port}/hook",
    "http://[::ffff:127.0.0.1]:{port}/hook",
    "http://localhost:{port}/hook",  # a host name that resolves to loopback
    "http://0.0.0.0:{port}/hook",
    "http://192.168.1.1/hook",
]


@pytest.mark.parametrize("template", REFUSED_TARGETS)
async def test_private_targets_are_refused_when_not_allowed(template: str) -> None:
    config = hook_config(WEBHOOK_ALLOW_PRIVATE=False)
    body = body_of({"type": "job.succeeded"})
    async with Receiver([200]) as hook:
        port = hook.url.split(":")[2].split("/")[0]
        url = template.format(port=port)
        with pytest.raises(targets.TargetRefusedError) as caught:
            await delivery.post(url, body, signed_headers(config.secret, "msg_5", body), config)
    assert hook.received == [], "nothing was sent"
    assert map_error(caught.value).code is ErrorCode.BAD_INPUT
    assert "WEBHOOK_ALLOW_PRIVATE" in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/x", "file:///etc/passwd", "gopher://h/", "http:///nohost", "x" * 3000],
)
def test_only_http_and_https_urls_are_targets(url: str) -> None:
    with pytest.raises(targets.TargetRefusedError):
        targets.check_url(url, allow_private=True)


def test_public_addresses_pass_the_check() -> None:
    for url in ("https://93.184.215.14/hook", "http://[2606:4700::1111]/x", "https://example.com/"):
        targets.check_url(url, allow_private=False)


async def test_a_webhook_url_that_is_not_http_is_refused_at_enqueue(redis: ArqRedis) -> None:
    with pytest.raises(targets.TargetRefusedError):
        await registry.enqueue(
            redis, "generate_thumbnails", {"media_id": "m9"}, webhook_url="file:///etc/passwd"
        )
    assert await redis.zcard(keys.QUEUE_NAME) == 0


def test_targets_the_job_option_then_the_function_default_and_none_for_internal_jobs() -> None:
    config = hook_config(
        WEBHOOK_URL="https://all.example/hook",
        WEBHOOK_URLS="transcribe_audio=https://words.example/hook",
    )
    assert target_of(config, "generate_thumbnails", None) == "https://all.example/hook"
    assert target_of(config, "transcribe_audio", None) == "https://words.example/hook"
    assert target_of(config, "transcribe_audio", "https://mine.example/") == "https://mine.example/"
    assert target_of(config, "reconcile_media", None) is None, "crons get no default"
    assert target_of(config, "deliver_webhook", "https://x.example/") is None, "no recursion"
    assert target_of(config, "not_a_job", None) is None
    assert target_of(hook_config(), "generate_thumbnails", None) is None
