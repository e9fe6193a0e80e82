"""The offline providers doing real work: espeak-ng, pocketsphinx, libvips; or refusing."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import pyvips

from ai_stand_ins import ai_settings
from conftest import TESTDATA
from mediaworker.config import Settings
from mediaworker.errors import ErrorCode, MediaWorkerError, map_error
from mediaworker.processing import detect
from mediaworker.processing.pool import CpuPool
from mediaworker.processing.retouch import SYNTHETIC_LABEL, clahe
from mediaworker.providers import Providers, build_providers
from support import photo, probe_seconds

JFK_WAV = TESTDATA / "audio" / "speech_jfk_16k_mono_s16.wav"


@pytest.fixture(scope="module")
def cpu() -> Iterator[CpuPool]:
    pool = CpuPool(2)
    yield pool
    pool.close()


@pytest.fixture
async def local(settings: Settings, cpu: CpuPool) -> AsyncIterator[Providers]:
    built = build_providers(ai_settings(settings, None), cpu)
    yield built
    await built.aclose()


def test_every_capability_is_local_and_says_so(local: Providers) -> None:
    assert local.describe() == {
        "image_generator": "local/placeholder",
        "image_enhancer": "local/vips-clahe-sharpen",
        "upscaler": "local/vips-lanczos3",
        "transcriber": "local/pocketsphinx-en-us",
        "speech": "local/espeak-ng",
        "photo_analyzer": "local/yolov4-tiny" if detect.weights_dir() else "none/none",
    }


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
@pytest.mark.parametrize(
    ("audio_format", "content_type"), [("mp3", "audio/mpeg"), ("opus", "audio/ogg")]
)
async def test_espeak_speech_decodes_to_audio_of_a_plausible_length(
    audio_format: str, content_type: str, local: Providers, tmp_path: Path
) -> None:
    text = "The quick brown fox jumps over the lazy dog. Then it sleeps."

    audio = await local.speech.synthesize(
        text, voice="alloy", audio_format=audio_format, language=None
    )

    path = tmp_path / f"speech.{audio_format}"
    path.write_bytes(audio.data)
    seconds = probe_seconds(path)
    assert 2.0 < seconds < 8.0, seconds  # about 12 words at espeak's 175 words a minute
    assert audio.content_type == content_type and audio.usage.characters == len(text)
    assert audio.usage.audio_seconds == pytest.approx(seconds, abs=0.2)


@pytest.mark.skipif(not JFK_WAV.is_file(), reason="../shared/testdata is not present")
async def test_pocketsphinx_hears_some_of_the_words_of_the_jfk_clip(local: Providers) -> None:
    heard = await local.transcriber.transcribe(JFK_WAV, language="en")

    words = set(heard.text.split())
    assert {"country", "fellow"} & words, heard.text
    assert heard.language == "en" and heard.usage.audio_seconds == pytest.approx(11.0, abs=0.1)
    assert heard.segments and heard.segments[0].start_s < 1 and heard.segments[-1].end_s > 10


async def test_the_offline_transcriber_refuses_other_languages(local: Providers) -> None:
    with pytest.raises(MediaWorkerError) as caught:
        await local.transcriber.transcribe(JFK_WAV, language="fr")
    assert map_error(caught.value).code == ErrorCode.NOT_CONFIGURED


async def test_enhancement_changes_the_image_and_keeps_its_size(
    local: Providers, tmp_path: Path
) -> None:
    source = photo(tmp_path / "dull.jpg")

    result = await local.image_enhancer.enhance(source)

    before = pyvips.Image.new_from_file(str(source))
    after = pyvips.Image.new_from_buffer(result.data, "")
    assert (after.width, after.height, after.bands) == (before.width, before.height, 3)
    assert (after - before).abs().avg() > 3, "visibly changed"
    assert after.colourspace("b-w").deviate() > 1.3 * before.colourspace("b-w").deviate()
    assert result.content_type == "image/jpeg" and result.usage.images == 1


async def test_upscale_doubles_with_lanczos_and_refuses_past_the_pixel_limit(
    local: Providers, tmp_path: Path
) -> None:
    source = photo(tmp_path / "small.jpg", 300, 200)

    result = await local.upscaler.upscale(source, scale=2, max_pixels=1_000_000)
    with pytest.raises(MediaWorkerError) as caught:
        await local.upscaler.upscale(source, scale=4, max_pixels=500_000)

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height, result.width, result.height) == (600, 400, 600, 400)
    error = map_error(caught.value)
    assert error.code == ErrorCode.BAD_INPUT and "1200x800" in error.message


async def test_the_placeholder_is_labelled_synthetic(local: Providers) -> None:
    result = await local.image_generator.generate("a fox", size="640x480", quality="auto")

    image = pyvips.Image.new_from_buffer(result.data, "")
    assert (image.width, image.height) == (640, 480) and result.synthetic
    assert SYNTHETIC_LABEL in str(image.get("exif-ifd0-ImageDescription"))


def test_clahe_spreads_a_narrow_histogram_and_keeps_the_order() -> None:
    rng = np.random.default_rng(7)
    dull = rng.integers(100, 141, size=(480, 640), dtype=np.uint8)

    out = clahe(dull)

    assert out.shape == dull.shape and out.dtype == np.uint8
    assert out.std() > 1.5 * dull.std(), "contrast stretched (slope limited by the clip)"
    assert np.corrcoef(dull.ravel(), out.ravel())[0, 1] > 0.95, "darker stays darker"


async def test_an_explicit_provider_without_its_key_refuses_and_the_rest_still_works(
    settings: Settings, cpu: CpuPool
) -> None:
    configured = ai_settings(settings, None, AI_IMAGE_GENERATOR="openai", OPENAI_API_KEY="")
    built = build_providers(configured, cpu)

    with pytest.raises(MediaWorkerError) as caught:
        await built.image_generator.generate("x", size="auto", quality="auto")

    assert map_error(caught.value).code == ErrorCode.NOT_CONFIGURED
    assert "OPENAI_API_KEY" in map_error(caught.value).message
    assert built.describe()["speech"] == "local/espeak-ng"
