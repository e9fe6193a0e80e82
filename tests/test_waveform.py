"""processing/waveform.py, without Redis or Postgres: the peaks, and the audiowaveform JSON and
.dat (version 2) checked field by field against bbc/audiowaveform's doc/DataFormat.md.
"""

from __future__ import annotations

import json
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing import waveform
from mediaworker.processing.waveform import Peaks, WaveformSpec, make_waveform

SPEC = WaveformSpec(
    samples_per_pixel=4,
    pixels_per_second=None,
    bits=16,
    image_width=60,
    image_height=20,
    colour="#ff0000",
    background="#ffffff",
)


def pcm(path: Path, samples: list[int] | np.ndarray) -> str:
    np.asarray(samples, dtype="<i2").tofile(path)
    return str(path)


def spec(**changes: object) -> WaveformSpec:
    return WaveformSpec(**{**SPEC.__dict__, **changes})  # type: ignore[arg-type]


def naive_peaks(samples: np.ndarray, per_pixel: int) -> list[tuple[int, int]]:
    runs = [samples[i : i + per_pixel] for i in range(0, len(samples), per_pixel)]
    return [(int(run.min()), int(run.max())) for run in runs]


def test_peaks_are_min_and_max_of_each_run_and_the_last_partial_run_counts(
    tmp_path: Path,
) -> None:
    samples = [0, 5, -3, 2, 100, -100, 7, 7, -1]  # runs of 4: [0 5 -3 2] [100 -100 7 7] [-1]
    peaks = waveform.read_peaks(pcm(tmp_path / "a.pcm", samples), 4)

    assert peaks.minima.tolist() == [-3, -100, -1]
    assert peaks.maxima.tolist() == [5, 100, -1]
    assert peaks.samples == 9


def test_peaks_read_in_blocks_equal_peaks_read_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(7)
    samples = rng.integers(-32768, 32767, size=10_007, dtype=np.int16)
    monkeypatch.setattr(waveform, "BLOCK_SAMPLES", 1000)  # 10 blocks and a bit

    peaks = waveform.read_peaks(pcm(tmp_path / "a.pcm", samples), 256)

    expected = naive_peaks(samples, 256)
    assert list(zip(peaks.minima.tolist(), peaks.maxima.tolist(), strict=True)) == expected
    assert len(expected) == 40  # ceil(10007 / 256)


def test_no_samples_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="0 samples"):
        make_waveform(pcm(tmp_path / "empty.pcm", []), 44100, SPEC)


def test_8_bit_values_are_divided_by_256_toward_zero_as_audiowaveform_does() -> None:
    values = np.array([-32768, -32767, -257, -256, -255, -1, 0, 255, 256, 32767], np.int16)
    peaks = Peaks(minima=values, maxima=values, samples=len(values))

    data = waveform.to_bits(peaks, 8)

    assert data.dtype == np.int8
    assert data[0::2].tolist() == [-128, -127, -1, -1, 0, 0, 0, 0, 1, 127]


def test_the_json_is_audiowaveform_version_2_field_by_field(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    samples = rng.integers(-20000, 20000, size=4410, dtype=np.int16)
    wave = make_waveform(pcm(tmp_path / "a.pcm", samples), 44100, spec(samples_per_pixel=100))

    document = json.loads(wave.json)

    assert list(document) == [
        "version",
        "channels",
        "sample_rate",
        "samples_per_pixel",
        "bits",
        "length",
        "data",
    ]
    assert document["version"] == 2
    assert document["channels"] == 1
    assert document["sample_rate"] == 44100
    assert document["samples_per_pixel"] == 100
    assert document["bits"] == 16
    assert document["length"] == 45  # ceil(4410 / 100) [min, max] pairs
    # data: min and max of each pixel, interleaved, length pairs x channels
    assert len(document["data"]) == 2 * document["length"] * document["channels"]
    pairs = list(zip(document["data"][0::2], document["data"][1::2], strict=True))
    assert pairs == naive_peaks(samples, 100)
    assert all(-32768 <= v <= 32767 and isinstance(v, int) for v in document["data"])


@pytest.mark.parametrize("bits", [8, 16])
def test_the_dat_file_is_audiowaveform_version_2_field_by_field(bits: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    samples = rng.integers(-32768, 32767, size=48000, dtype=np.int16)
    wave = make_waveform(
        pcm(tmp_path / "a.pcm", samples), 48000, spec(bits=bits, samples_per_pixel=512)
    )
    dat = wave.dat

    # Header: little-endian, 24 bytes in version 2.
    version = struct.unpack_from("<i", dat, 0)[0]  # int32 version
    flags = struct.unpack_from("<I", dat, 4)[0]  # uint32 flags: bit 0 set = 8-bit data
    sample_rate = struct.unpack_from("<i", dat, 8)[0]  # int32 sample rate
    samples_per_pixel = struct.unpack_from("<i", dat, 12)[0]  # int32 samples per pixel
    length = struct.unpack_from("<I", dat, 16)[0]  # uint32 length: pairs per channel
    channels = struct.unpack_from("<i", dat, 20)[0]  # int32 channels (version 2 only)
    assert version == 2
    assert flags & 1 == (1 if bits == 8 else 0) and flags >> 1 == 0
    assert (sample_rate, samples_per_pixel, length, channels) == (48000, 512, 94, 1)
    # Data: min, max of each pixel (and of each channel), int8 or int16 little-endian.
    body = np.frombuffer(dat, dtype="<i1" if bits == 8 else "<i2", offset=24)
    assert len(dat) == 24 + length * channels * 2 * (bits // 8)
    assert body.tolist() == json.loads(wave.json)["data"], "the same values as the JSON"
    if bits == 16:
        pairs = list(zip(body[0::2].tolist(), body[1::2].tolist(), strict=True))
        assert pairs == naive_peaks(samples, 512)


def test_pixels_per_second_gives_samples_per_pixel_from_the_sample_rate(tmp_path: Path) -> None:
    wave = make_waveform(
        pcm(tmp_path / "a.pcm", np.zeros(22050, np.int16)),
        22050,
        spec(pixels_per_second=50),
    )

    assert (wave.samples_per_pixel, wave.length, wave.duration_s) == (441, 50, 1.0)


def test_the_images_have_the_configured_size_and_colours(tmp_path: Path) -> None:
    t = np.arange(8000)
    loud_then_quiet = np.where(t < 4000, 30000, 300) * np.sin(t / 5)
    wave = make_waveform(
        pcm(tmp_path / "a.pcm", loud_then_quiet.astype(np.int16)),
        8000,
        spec(image_width=100, image_height=40, colour="#102030", background="#ffffff00"),
    )

    svg = ET.fromstring(wave.svg)  # noqa: S314 - our own output
    assert (svg.get("width"), svg.get("height"), svg.get("viewBox")) == ("100", "40", "0 0 100 40")
    path = svg.find("{http://www.w3.org/2000/svg}path")
    assert path is not None and path.get("fill") == "#102030"
    image = pyvips.Image.new_from_buffer(wave.png, "")
    assert (image.width, image.height, image.bands) == (100, 40, 4)
    pixels = image.numpy()
    assert pixels[20, 10].tolist() == [16, 32, 48, 255], "the waveform colour at the centre"
    assert pixels[2, 10, 3] > 0 and pixels[2, 90, 3] == 0, "loud reaches the top, quiet does not"
    assert pixels[0, 99, 3] == 0, "transparent background"


def test_silence_is_drawn_as_a_line_not_nothing(tmp_path: Path) -> None:
    wave = make_waveform(pcm(tmp_path / "a.pcm", np.zeros(1000, np.int16)), 8000, SPEC)

    pixels = pyvips.Image.new_from_buffer(wave.png, "").numpy()

    assert pixels.shape == (20, 60, 4)
    red = (pixels[:, :, 0] == 255) & (pixels[:, :, 1] == 0)  # red on white
    assert red[10].all(), "one crisp row across the middle"
    assert not red[:10].any() and not red[11:].any()


def test_a_sound_shorter_than_the_image_is_stretched_across_it(tmp_path: Path) -> None:
    wave = make_waveform(pcm(tmp_path / "a.pcm", [1000, -1000, 20000, -20000]), 8000, SPEC)

    assert wave.length == 1
    pixels = pyvips.Image.new_from_buffer(wave.png, "").numpy()
    assert (pixels[10, :, 1] < 128).all(), "every column drawn"
