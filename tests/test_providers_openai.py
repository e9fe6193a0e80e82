"""The OpenAI adapters: the real SDK against the loopback stand-in, every call and every fault."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pyvips

from ai_stand_ins import OPENAI_KEY, AiStandIn, _gradient, _tone_mp3, ai_settings
from mediaworker.config import Settings
from mediaworker.errors import ErrorCode, MediaWorkerError, map_error
from mediaworker.processing.pool import CpuPool
from mediaworker.providers import Providers, build_providers
from mediaworker.providers.base import start_counting_requests

Call = Callable[[Providers, Path], Awaitable[Any]]


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    _gradient(320, 200).jpegsave(str(tmp_path / "photo.jpg"))
    (tmp_path / "speech.mp3").write_bytes(_tone_mp3(1.0))
    return tmp_path


CALLS: dict[str, Call] = {
    "images.generate": lambda p, d: p.image_generator.generate(
        "a red fox in the snow", size="256x256", quality="low"
    ),
    "images.edit": lambda p, d: p.image_enhancer.enhance(d / "photo.jpg"),
    "audio.transcribe": lambda p, d: p.transcriber.transcribe(d / "speech.mp3", language=None),
    "audio.speech": lambda p, d: p.speech.synthesize(
        "Hello there.", voice="alloy", audio_format="mp3", language=None
    ),
}

FAULTS = [
    ("429", ErrorCode.RATE_LIMIT, True),
    ("500", ErrorCode.PROVIDER_DOWN, True),
    ("503", ErrorCode.PROVIDER_DOWN, True),
    ("slow", ErrorCode.TIMEOUT, True),
    ("reset", ErrorCode.NETWORK, True),
    ("malformed", ErrorCode.PROVIDER_DOWN, True),
    ("401", ErrorCode.NOT_CONFIGURED, False),
    ("403", ErrorCode.NOT_CONFIGURED, False),
    ("400", ErrorCode.BAD_INPUT, False),
    ("refusal", ErrorCode.BAD_INPUT, False),
]


def test_auto_picks_openai_when_its_key_is_set(providers: Providers) -> None:
    assert providers.describe() == {
        "image_generator": "openai/gpt-image-2.5-flare",
        "image_enhancer": "openai/gpt-image-2.5-flare",
        "upscaler": "local/vips-lanczos3",
        "transcriber": "openai/gpt-transcribe",
        "speech": "openai/gpt-4o-mini-tts",
        "photo_analyzer": "anthropic/claude-haiku-5-5",
    }


async def test_generate_returns_the_image_and_its_token_usage(
    providers: Providers, api: AiStandIn, inputs: Path
) -> None:
    result = await CALLS["images.generate"](providers, inputs)

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height, result.content_type) == (256, 256, "image/png")
    assert (result.usage.input_tokens, result.usage.output_tokens) == (50, 4160)
    assert result.usage.raw["total_tokens"] == 4210 and not result.synthetic
    [call] = api.calls("images.generate")
    assert call.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert call.body["model"] == "gpt-image-2.5-flare"
    assert (call.body["prompt"], call.body["size"], call.body["n"]) == (
        "a red fox in the snow",
        "256x256",
        1,
    )


async def test_edit_sends_the_photo_and_returns_the_edited_one(
    providers: Providers, api: AiStandIn, inputs: Path
) -> None:
    result = await CALLS["images.edit"](providers, inputs)

    edited = pyvips.Image.new_from_buffer(result.data, "")
    original = pyvips.Image.new_from_file(str(inputs / "photo.jpg"))
    assert (edited.width, edited.height) == (320, 200)
    assert abs(edited.avg() - (255 - original.avg())) < 2, "the stand-in returns the negative"
    assert result.usage.priced == {"input_image_tokens": 323}
    [call] = api.calls("images.edit")
    assert call.body["image_size"] == "320x200"
    assert call.body["input_fidelity"] == "high" and "Enhance" in call.body["prompt"]


async def test_transcribe_returns_text_language_and_audio_seconds(
    providers: Providers, api: AiStandIn, inputs: Path
) -> None:
    result = await CALLS["audio.transcribe"](providers, inputs)

    assert "country" in result.text and result.language == "en"
    assert result.usage.audio_seconds == 11.0
    [call] = api.calls("audio.transcribe")
    assert (call.body["model"], call.body["response_format"]) == ("gpt-transcribe", "json")
    assert call.body["file_bytes"] == (inputs / "speech.mp3").stat().st_size


async def test_speech_returns_audio_with_its_measured_duration(
    providers: Providers, api: AiStandIn, inputs: Path
) -> None:
    result = await CALLS["audio.speech"](providers, inputs)

    assert result.content_type == "audio/mpeg"
    assert result.data.startswith((b"ID3", b"\xff\xfb", b"\xff\xf3")), "an MP3"
    assert result.usage.characters == len("Hello there.")
    assert result.usage.audio_seconds == pytest.approx(1.0, abs=0.1)
    [call] = api.calls("audio.speech")
    assert (call.body["model"], call.body["voice"]) == ("gpt-4o-mini-tts", "alloy")


@pytest.mark.parametrize(("fault", "code", "retryable"), FAULTS, ids=[f[0] for f in FAULTS])
@pytest.mark.parametrize("route", list(CALLS))
async def test_every_fault_maps_to_its_code(
    route: str,
    fault: str,
    code: ErrorCode,
    retryable: bool,
    providers: Providers,
    api: AiStandIn,
    inputs: Path,
) -> None:
    api.fail(route, fault)

    with pytest.raises(MediaWorkerError) as caught:
        await CALLS[route](providers, inputs)

    mapped = map_error(caught.value)
    assert (mapped.code, mapped.retryable) == (code, retryable), mapped
    assert 10 < len(mapped.message) <= 200 and "openai" in mapped.message
    assert OPENAI_KEY not in mapped.message and "SECRET" not in mapped.message
    assert mapped.retry_after_s == (7.0 if fault == "429" else None)
    assert caught.value.__cause__ is None, "no SDK exception (with its request) chained"
    assert len(api.calls(route)) == 1, "the SDK does not retry by itself (max_retries=0)"


async def test_the_sdks_own_retry_is_counted_when_turned_on(
    api: AiStandIn, settings: Settings, inputs: Path
) -> None:
    cpu = CpuPool(1)
    providers = build_providers(ai_settings(settings, api, AI_SDK_MAX_RETRIES=1), cpu)
    api.fail("images.generate", "500")
    requests = start_counting_requests()
    try:
        result = await CALLS["images.generate"](providers, inputs)
    finally:
        await providers.aclose()
        cpu.close()
    assert result.data and requests == [2]
    assert [c.fault for c in api.calls("images.generate")] == ["500", None]
