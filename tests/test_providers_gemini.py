"""The Gemini image enhancer (optional extra): google-genai against the loopback stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pyvips

from ai_stand_ins import GEMINI_KEY, AiStandIn, _gradient, ai_settings
from mediaworker.config import Settings
from mediaworker.errors import ErrorCode, MediaWorkerError, map_error
from mediaworker.pricing import cost_usd
from mediaworker.providers import Providers
from support import providers_for

pytest.importorskip("google.genai")

FAULTS = [
    ("429", ErrorCode.RATE_LIMIT, True),
    ("500", ErrorCode.PROVIDER_DOWN, True),
    ("503", ErrorCode.PROVIDER_DOWN, True),
    ("slow", ErrorCode.TIMEOUT, True),
    ("reset", ErrorCode.NETWORK, True),
    ("malformed", ErrorCode.PROVIDER_DOWN, True),
    ("401", ErrorCode.NOT_CONFIGURED, False),
    ("400", ErrorCode.BAD_INPUT, False),
    ("refusal", ErrorCode.BAD_INPUT, False),
]


@pytest.fixture
async def providers(api: AiStandIn, settings: Settings) -> AsyncIterator[Providers]:
    async with providers_for(ai_settings(settings, api, AI_IMAGE_ENHANCER="auto")) as built:
        yield built


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    path = tmp_path / "photo.jpg"
    _gradient(200, 120).jpegsave(str(path))
    return path


async def test_auto_prefers_gemini_for_enhancement_as_the_original_deployment(
    providers: Providers,
) -> None:
    assert providers.describe()["image_enhancer"] == "gemini/gemini-3.1-flash-image"


async def test_enhance_returns_the_model_image_and_its_tokens(
    providers: Providers, api: AiStandIn, photo: Path
) -> None:
    result = await providers.image_enhancer.enhance(photo)

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height, result.content_type) == (200, 120, "image/png")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (1290, 1300)
    assert cost_usd("gemini", "gemini-3.1-flash-image", result.usage) is not None
    [call] = api.calls("gemini.generate")
    assert call.headers["x-goog-api-key"] == GEMINI_KEY and call.body["parts"] == 2


@pytest.mark.parametrize(("fault", "code", "retryable"), FAULTS, ids=[f[0] for f in FAULTS])
async def test_every_fault_maps_to_its_code(
    fault: str,
    code: ErrorCode,
    retryable: bool,
    providers: Providers,
    api: AiStandIn,
    photo: Path,
) -> None:
    api.fail("gemini.generate", fault)

    with pytest.raises(MediaWorkerError) as caught:
        await providers.image_enhancer.enhance(photo)

    mapped = map_error(caught.value)
    assert (mapped.code, mapped.retryable) == (code, retryable), mapped
    assert 10 < len(mapped.message) <= 200 and "gemini" in mapped.message
    assert GEMINI_KEY not in mapped.message
    assert mapped.retry_after_s == (7.0 if fault == "429" else None)
    assert len(api.calls("gemini.generate")) == 1, "the SDK's own retries are off"
