"""The Anthropic adapter (photo analysis): the real SDK against the loopback stand-in.

The vision replies themselves (invalid JSON, schema, max_tokens) for both vision adapters:
test_photo_analysis.py."""

from __future__ import annotations

import pytest

from ai_stand_ins import ANTHROPIC_KEY, AiStandIn, _gradient
from mediaworker.errors import ErrorCode, MediaWorkerError, map_error
from mediaworker.pricing import cost_usd
from mediaworker.providers import Providers
from mediaworker.providers.http_errors import RefusedError

FAULTS = [
    ("429", ErrorCode.RATE_LIMIT, True),
    ("500", ErrorCode.PROVIDER_DOWN, True),
    ("529", ErrorCode.PROVIDER_DOWN, True),
    ("slow", ErrorCode.TIMEOUT, True),
    ("reset", ErrorCode.NETWORK, True),
    ("malformed", ErrorCode.PROVIDER_DOWN, True),
    ("401", ErrorCode.NOT_CONFIGURED, False),
    ("403", ErrorCode.NOT_CONFIGURED, False),
    ("400", ErrorCode.BAD_INPUT, False),
    ("refusal", ErrorCode.BAD_INPUT, False),
]
PNG = bytes(_gradient(64, 48).pngsave_buffer())


async def test_analysis_returns_the_room_its_items_and_tokens(
    providers: Providers, api: AiStandIn
) -> None:
    found = await providers.photo_analyzer.analyze(PNG, content_type="image/png")

    assert found.result.room_type == "living_room" and len(found.result.items) == 3
    assert found.model == "claude-haiku-5-5-20261101"  # as the API reported it
    assert (found.usage.input_tokens, found.usage.output_tokens) == (1234, 56)
    cost = cost_usd("anthropic", "claude-haiku-5-5", found.usage)
    assert cost is not None and 0 < cost < 0.01
    [call] = api.calls("messages")
    assert call.headers["authorization"] == f"Bearer {ANTHROPIC_KEY}"  # this SDK sends a bearer
    assert call.body["model"] == "claude-haiku-5-5" and call.body["max_tokens"] == 4096
    assert call.body["output_config"]["format"]["type"] == "json_schema"
    image, question = call.body["messages"][0]["content"]
    assert image["source"]["media_type"] == "image/png" and question["type"] == "text"


@pytest.mark.parametrize(("fault", "code", "retryable"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_every_fault_maps_to_its_code(
    fault: str, code: ErrorCode, retryable: bool, providers: Providers, api: AiStandIn
) -> None:
    api.fail("messages", fault)

    with pytest.raises(MediaWorkerError) as caught:
        await providers.photo_analyzer.analyze(PNG, content_type="image/png")

    mapped = map_error(caught.value)
    assert (mapped.code, mapped.retryable) == (code, retryable), mapped
    assert 10 < len(mapped.message) <= 200 and "anthropic" in mapped.message
    assert ANTHROPIC_KEY not in mapped.message and "SECRET" not in mapped.message
    assert mapped.retry_after_s == (7.0 if fault == "429" else None)
    assert len(api.calls("messages")) == 1


async def test_a_refusal_keeps_the_usage_so_its_cost_is_metered(
    providers: Providers, api: AiStandIn
) -> None:
    api.fail("messages", "refusal")

    with pytest.raises(RefusedError) as caught:
        await providers.photo_analyzer.analyze(PNG, content_type="image/png")

    assert caught.value.usage is not None and caught.value.usage.input_tokens == 1234


async def test_a_file_that_is_not_an_image_is_refused_before_any_call(
    providers: Providers, api: AiStandIn
) -> None:
    with pytest.raises(MediaWorkerError) as caught:
        await providers.photo_analyzer.analyze(b"%PDF-1.7", content_type="application/pdf")

    assert map_error(caught.value).code == ErrorCode.BAD_INPUT
    assert api.calls() == []
