"""No secret in an error message or a repr, and nothing served beyond this host by default."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_stand_ins import GEMINI_KEY, KEYS, AiStandIn, ai_settings
from conftest import running_worker
from mediaworker.config import Settings
from mediaworker.errors import map_error, safe_message

LEAKS = [
    ("Error 111 connecting to redis://:hunter2-pass@cache:6379/0.", "hunter2-pass"),
    ("cannot reach rediss://default:hunter2-pass@cache:6380", "hunter2-pass"),
    (f"400 INVALID_ARGUMENT for https://example.test/v1?x={GEMINI_KEY}", GEMINI_KEY),
    (f"API key not valid: {GEMINI_KEY}.", GEMINI_KEY),
]


@pytest.mark.parametrize(("text", "secret"), LEAKS, ids=["redis", "rediss-user", "url", "bare"])
def test_safe_message_masks_redis_passwords_and_google_keys(text: str, secret: str) -> None:
    assert secret not in safe_message(text)
    assert secret not in map_error(ConnectionError(text)).message


async def test_no_provider_key_is_in_the_repr_of_a_workers_context(
    settings: Settings, api: AiStandIn, tmp_path: Path
) -> None:
    pytest.importorskip("google.genai")
    configured = ai_settings(settings, api, AI_IMAGE_ENHANCER="gemini")

    async with running_worker(configured) as worker:
        context = worker.ctx["mw"]
        assert context.providers.image_enhancer.provider == "gemini"
        shown = repr(context)

    for secret in KEYS:
        assert secret not in shown
