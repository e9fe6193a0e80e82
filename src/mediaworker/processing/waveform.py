"""Waveforms, pure and synchronous: raw PCM in, BBC audiowaveform data and images out.

`make_waveform` runs these steps, top to bottom, each a function below:

1. read_peaks     mono signed 16-bit little-endian PCM, read in blocks (memory stays bounded
                  whatever the length): the minimum and maximum of every `samples_per_pixel`
                  samples; the last, partial pixel is kept, as audiowaveform keeps it
2. to_bits        16-bit values as they are; 8-bit ones divided by 256, truncated toward zero
                  (audiowaveform's `-b 8`)
3. encode_json    audiowaveform JSON, version 2: version, channels, sample_rate,
                  samples_per_pixel, bits, length, data ([min, max] pairs, interleaved)
4. encode_dat     audiowaveform binary .dat, version 2: a 24-byte little-endian header (int32
                  version, uint32 flags with bit 0 set for 8-bit data, int32 sample rate,
                  int32 samples per pixel, uint32 length, int32 channels), then the pairs as
                  int8 or int16
5. image_columns  the 16-bit peaks regrouped into one column per image pixel
6. render_svg     one filled path: the maxima left to right, the minima back; silence is a
                  one-pixel line, never nothing; no amplitude scaling (quiet stays quiet)
7. render_png     the same shape drawn with numpy (libvips' SVG loader stays blocked: it must
                  never see an uploaded file), smooth at the edges, saved by libvips

Both data files are readable by peaks.js and waveform-data.js.
"""

from __future__ import annotations

import functools
import json
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyvips

from mediaworker.errors import BadInputError

__all__ = ["Peaks", "Waveform", "WaveformSpec", "make_waveform"]

Int16s = npt.NDArray[np.int16]
Floats = npt.NDArray[np.float64]

FORMAT_VERSION = 2
CHANNELS = 1
DAT_HEADER = struct.Struct("<iIiiIi")  # version, flags, sample rate, samples/pixel, length, ch.
FLAG_8_BIT = 0x1
BLOCK_SAMPLES = 1 << 22  # read 8 MiB of PCM at a time
FULL_SCALE = 32768.0


@dataclass(frozen=True)
class WaveformSpec:
    samples_per_pixel: int
    pixels_per_second: int | None  # when set, samples per pixel = sample rate // this
    bits: int  # 8 or 16
    image_width: int
    image_height: int
    colour: str  # "#rrggbb" or "#rrggbbaa"
    background: str

    def __post_init__(self) -> None:
        if self.bits not in (8, 16):
            raise ValueError(f"bits must be 8 or 16, got {self.bits}")
        if min(self.samples_per_pixel, self.image_width, self.image_height) < 1:
            raise ValueError("samples per pixel and the image size must be at least 1")

    def samples_per_pixel_at(self, sample_rate: int) -> int:
        if self.pixels_per_second:
            return max(1, sample_rate // self.pixels_per_second)
        return self.samples_per_pixel


@dataclass(frozen=True)
class Peaks:
    minima: Int16s
    maxima: Int16s
    samples: int  # samples read in all


@dataclass(frozen=True)
class Waveform:
    sample_rate: int
    samples_per_pixel: int
    bits: int
    length: int  # [min, max] pairs
    samples: int
    json: bytes
    dat: bytes
    svg: bytes
    png: bytes

    @property
    def duration_s(self) -> float:
        return self.samples / self.sample_rate


def make_waveform(pcm_path: str, sample_rate: int, spec: WaveformSpec) -> Waveform:
    """Data and images of the mono s16le PCM in `pcm_path`, recorded at `sample_rate`."""
    if sample_rate < 1:
        raise ValueError(f"sample rate must be positive, got {sample_rate}")
    samples_per_pixel = spec.samples_per_pixel_at(sample_rate)
    peaks = read_peaks(pcm_path, samples_per_pixel)
    data = to_bits(peaks, spec.bits)
    columns = image_columns(peaks, spec.image_width)
    return Waveform(
        sample_rate=sample_rate,
        samples_per_pixel=samples_per_pixel,
        bits=spec.bits,
        length=len(peaks.minima),
        samples=peaks.samples,
        json=encode_json(data, sample_rate, samples_per_pixel, spec.bits),
        dat=encode_dat(data, sample_rate, samples_per_pixel, spec.bits),
        svg=render_svg(columns, spec),
        png=render_png(columns, spec),
    )


# 1. read_peaks


def read_peaks(pcm_path: str, samples_per_pixel: int) -> Peaks:
    block = max(1, BLOCK_SAMPLES // samples_per_pixel) * samples_per_pixel
    minima: list[Int16s] = []
    maxima: list[Int16s] = []
    total = 0
    with Path(pcm_path).open("rb") as pcm:
        while (samples := np.fromfile(pcm, dtype="<i2", count=block)).size:
            low, high = block_peaks(samples, samples_per_pixel)
            minima.append(low)
            maxima.append(high)
            total += samples.size
    if total == 0:
        raise BadInputError("no audio could be decoded (0 samples)")
    return Peaks(np.concatenate(minima), np.concatenate(maxima), total)


def block_peaks(samples: Int16s, samples_per_pixel: int) -> tuple[Int16s, Int16s]:
    """Min and max of each run of `samples_per_pixel` samples; a shorter last run counts."""
    pixels = -(-samples.size // samples_per_pixel)
    padded = samples
    if pixels * samples_per_pixel != samples.size:
        # Pad the last run with its own last sample: neither its min nor its max changes.
        filler = np.full(pixels * samples_per_pixel - samples.size, samples[-1], samples.dtype)
        padded = np.concatenate([samples, filler])
    runs = padded.reshape(pixels, samples_per_pixel)
    return runs.min(axis=1), runs.max(axis=1)


# 2. to_bits


def to_bits(peaks: Peaks, bits: int) -> npt.NDArray[np.int16] | npt.NDArray[np.int8]:
    """[min0, max0, min1, max1, ...] at 16 bits, or at 8 (value / 256, toward zero)."""
    pairs = np.empty(2 * len(peaks.minima), dtype=np.int16)
    pairs[0::2] = peaks.minima
    pairs[1::2] = peaks.maxima
    if bits == 16:
        return pairs
    return np.trunc(pairs / 256).astype(np.int8)


# 3. encode_json


def encode_json(
    data: npt.NDArray[np.int16] | npt.NDArray[np.int8],
    sample_rate: int,
    samples_per_pixel: int,
    bits: int,
) -> bytes:
    header = {
        "version": FORMAT_VERSION,
        "channels": CHANNELS,
        "sample_rate": sample_rate,
        "samples_per_pixel": samples_per_pixel,
        "bits": bits,
        "length": len(data) // 2,
    }
    # The data array written by table look-up: three times faster than json.dumps of a list.
    numbers = _number_strings()[data.astype(np.int32) + 32768]
    head = json.dumps(header, separators=(",", ":"))[:-1]
    return f'{head},"data":[{",".join(numbers)}]}}'.encode()


@functools.cache
def _number_strings() -> npt.NDArray[np.object_]:
    """str(n) for every 16-bit n, indexed by n + 32768 (built once per process)."""
    return np.array([str(n) for n in range(-32768, 32768)], dtype=object)


# 4. encode_dat


def encode_dat(
    data: npt.NDArray[np.int16] | npt.NDArray[np.int8],
    sample_rate: int,
    samples_per_pixel: int,
    bits: int,
) -> bytes:
    flags = FLAG_8_BIT if bits == 8 else 0
    header = DAT_HEADER.pack(
        FORMAT_VERSION, flags, sample_rate, samples_per_pixel, len(data) // 2, CHANNELS
    )
    values = data.astype("<i1" if bits == 8 else "<i2", copy=False)
    return header + values.tobytes()


# 5. image_columns


def image_columns(peaks: Peaks, width: int) -> tuple[Int16s, Int16s]:
    """The min and max under each of `width` columns; a short sound is stretched."""
    starts = (np.arange(width, dtype=np.int64) * len(peaks.minima)) // width
    return np.minimum.reduceat(peaks.minima, starts), np.maximum.reduceat(peaks.maxima, starts)


# 6. render_svg


def render_svg(columns: tuple[Int16s, Int16s], spec: WaveformSpec) -> bytes:
    width, height = spec.image_width, spec.image_height
    top, bottom = edges(columns, height)
    x = np.arange(width) + 0.5
    points = [f"{a:.1f},{b:.1f}" for a, b in zip(x, top, strict=True)]
    points += [f"{a:.1f},{b:.1f}" for a, b in zip(x[::-1], bottom[::-1], strict=True)]
    fill, fill_opacity = _svg_colour(spec.colour)
    back, back_opacity = _svg_colour(spec.background)
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="{back}" fill-opacity="{back_opacity}"/>'
        f'<path fill="{fill}" fill-opacity="{fill_opacity}" d="M{" L".join(points)} Z"/>'
        "</svg>\n"
    )
    return svg.encode()


def edges(columns: tuple[Int16s, Int16s], height: int) -> tuple[Floats, Floats]:
    """The top and bottom y of each column, at least one pixel apart (silence is a line)."""
    low, high = columns
    middle = height / 2
    top = middle - high.astype(np.float64) / FULL_SCALE * middle
    bottom = middle - low.astype(np.float64) / FULL_SCALE * middle
    # Thinner than a pixel: one whole pixel row instead, crisp rather than two half rows.
    thin = bottom - top < 1
    line = np.clip(np.floor((top + bottom) / 2), 0, height - 1)
    return np.where(thin, line, top), np.where(thin, line + 1, bottom)


def _svg_colour(value: str) -> tuple[str, str]:
    """SVG colour and opacity: #rrggbbaa -> ("#rrggbb", "0.502"); #rrggbb -> ("#rrggbb", "1")."""
    if len(value) == 9:
        return value[:7], f"{int(value[7:], 16) / 255:.3g}"
    return value, "1"


# 7. render_png


def render_png(columns: tuple[Int16s, Int16s], spec: WaveformSpec) -> bytes:
    """The same picture as the SVG, drawn with numpy: each pixel covered by the shape in
    proportion to how much of its height lies between the column's edges (smooth edges).

    Drawn here rather than by rasterising the SVG: the worker blocks libvips' SVG loader,
    which must never see an uploaded file.
    """
    width, height = spec.image_width, spec.image_height
    top, bottom = edges(columns, height)
    rows = np.arange(height, dtype=np.float64)[:, np.newaxis]
    cover = np.clip(np.minimum(rows + 1, bottom) - np.maximum(rows, top), 0.0, 1.0)
    levels = np.rint(cover * 255).astype(np.uint8)
    pixels = _blend_table(spec.colour, spec.background)[levels]  # height x width x RGBA
    image = pyvips.Image.new_from_memory(pixels.tobytes(), width, height, 4, "uchar")
    image = image.copy(interpretation="srgb")
    return bytes(image.pngsave_buffer(compression=6, keep="none"))


def _blend_table(colour: str, background: str) -> npt.NDArray[np.uint8]:
    """RGBA of the colour over the background at each of 256 coverages ("over" compositing)."""
    fg, bg = _rgba(colour), _rgba(background)
    alpha_fg = np.linspace(0.0, 1.0, 256)[:, np.newaxis] * fg[3]
    alpha = alpha_fg + bg[3] * (1 - alpha_fg)
    rgb = (fg[:3] * alpha_fg + bg[:3] * bg[3] * (1 - alpha_fg)) / np.maximum(alpha, 1e-9)
    rgba = np.rint(np.concatenate([rgb, alpha], axis=1) * 255)
    table: npt.NDArray[np.uint8] = rgba.astype(np.uint8)
    return table


def _rgba(value: str) -> Floats:
    """A #rrggbb or #rrggbbaa colour as four floats in 0..1."""
    digits = value[1:] if len(value) == 9 else value[1:] + "ff"
    return np.array([int(digits[i : i + 2], 16) / 255 for i in range(0, 8, 2)])
