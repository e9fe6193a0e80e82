"""One contract per capability, run against every implementation of it (local and stand-ins)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips

from ai_stand_ins import AiStandIn, _gradient, ai_settings
from mediaworker.config import Settings
from mediaworker.processing.pool import CpuPool
from mediaworker.providers import Providers, build_providers

CHOICES = {
    "image_generator": ("local", "openai"),
    "image_enhancer": ("local", "openai", "gemini"),
    "speech": ("local", "openai"),
}
ENV = {
    "image_generator": "AI_IMAGE_GENERATOR",
    "image_enhancer": "AI_IMAGE_ENHANCER",
    "speech": "AI_SPEECH",
}


@pytest.fixture(scope="module")
def cpu() -> Iterator[CpuPool]:
    pool = CpuPool(1)
    yield pool
    pool.close()


async def built(
    settings: Settings, api: AiStandIn, cpu: CpuPool, capability: str, name: str
) -> Providers:
    configured = ai_settings(settings, api, **{ENV[capability]: name})
    providers = build_providers(configured, cpu)
    provider = getattr(providers, capability)
    assert (provider.provider, provider.remote) == (name, name != "local")
    assert provider.model and provider.model != "none"
    return providers


@pytest.mark.parametrize("name", CHOICES["image_generator"])
async def test_an_image_generator_returns_an_image_of_the_size_asked(
    name: str, settings: Settings, api: AiStandIn, cpu: CpuPool
) -> None:
    providers = await built(settings, api, cpu, "image_generator", name)
    try:
        result = await providers.image_generator.generate("a fox", size="256x256", quality="low")
    finally:
        await providers.aclose()
    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (256, 256)
    assert result.content_type.startswith("image/") and result.synthetic == (name == "local")


@pytest.mark.parametrize("name", CHOICES["image_enhancer"])
async def test_an_image_enhancer_returns_a_changed_image_of_the_same_size(
    name: str, settings: Settings, api: AiStandIn, cpu: CpuPool, tmp_path: Path
) -> None:
    source = tmp_path / "photo.jpg"
    (_gradient(240, 160) * 0.5 + 60).cast("uchar").jpegsave(str(source), Q=92)
    providers = await built(settings, api, cpu, "image_enhancer", name)
    try:
        result = await providers.image_enhancer.enhance(source)
    finally:
        await providers.aclose()
    after = pyvips.Image.new_from_buffer(result.data, "")
    before = pyvips.Image.new_from_file(str(source))
    assert (after.width, after.height) == (240, 160)
    assert (after[:3] - before).abs().avg() > 1


@pytest.mark.parametrize("name", CHOICES["speech"])
async def test_a_speech_synthesizer_returns_mp3_with_its_usage(
    name: str, settings: Settings, api: AiStandIn, cpu: CpuPool
) -> None:
    providers = await built(settings, api, cpu, "speech", name)
    try:
        audio = await providers.speech.synthesize(
            "Good morning.", voice=providers.speech.default_voice, audio_format="mp3", language=None
        )
    finally:
        await providers.aclose()
    assert audio.content_type == "audio/mpeg" and len(audio.data) > 1000
    assert audio.usage.characters == len("Good morning.")
    assert audio.usage.audio_seconds is not None and 0.3 < audio.usage.audio_seconds < 5
