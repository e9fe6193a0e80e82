"""The AI image work done locally: pure and synchronous, paths or bytes in, encoded bytes out.

- `prepare`      an upright, flattened sRGB JPEG of an original at full size: what every image
                 enhancer gets (steps 1-6 and 8 of `image.py`, with its limits)
- `enhance`      local contrast equalisation of the lightness (CLAHE: 8x8 tiles, clip limit 2,
                 bilinear between tiles, as OpenCV's createCLAHE), blended with the original,
                 then unsharp masking; same size, colours kept
- `upscale`      lanczos3 enlargement by 2 or 4, streamed, as a baseline JPEG (a progressive
                 one holds the whole enlarged image in memory, and optimised Huffman tables
                 cost 60 % more time for a few % of size); the output's pixel count is checked
                 from the header, before anything is decoded
- `placeholder`  the prompt drawn on a gradient and marked SYNTHETIC, in the pixels and in the
                 metadata: what the offline image generator returns, never taken for a model's
- `to_jpeg`      whatever image a provider returned, checked and re-encoded for storage
"""

from __future__ import annotations

import html
import math
import textwrap
from dataclasses import dataclass

import numpy as np
import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing.decode import (
    ImageLimits,
    VipsImage,
    check_file_size,
    check_pixels,
    read_header,
)
from mediaworker.processing.image import autorotate, flatten_alpha, load_upright, to_srgb

CLAHE_TILES = 8
CLAHE_CLIP = 2.0
STRENGTH = 0.7  # share of the equalised lightness in the result
SHARPEN_SIGMA = 1.0
STRIP_ROWS = 512  # rows interpolated at a time: bounds the memory of big images
SYNTHETIC_LABEL = "SYNTHETIC PLACEHOLDER - not a model's image"


@dataclass(frozen=True)
class Encoded:
    data: bytes
    width: int
    height: int
    content_type: str = "image/jpeg"


def prepare(source_path: str, dest_path: str, limits: ImageLimits) -> tuple[int, int]:
    """Write an upright sRGB JPEG (quality 95) of `source_path`; its width and height."""
    image = _upright_in_memory(source_path, limits)
    image.jpegsave(dest_path, Q=95, keep="none")
    return int(image.width), int(image.height)


def _upright_in_memory(path: str, limits: ImageLimits) -> VipsImage:
    try:
        return load_upright(path, limits).copy_memory()
    except pyvips.Error as exc:
        raise BadInputError(f"cannot process this image: {_reason(exc)}") from exc


def enhance(source_path: str, quality: int) -> Encoded:
    """Local contrast equalisation plus sharpening, same size."""
    image = pyvips.Image.new_from_file(source_path, access="sequential").copy_memory()
    if image.bands == 1:
        result = _blend(image, clahe(image.numpy()))
    else:
        lab = image.colourspace("lab")
        lightness = (lab[0] * 2.55).cast("uchar")
        equalised = _blend(lightness, clahe(lightness.numpy())).cast("float") / 2.55
        result = equalised.bandjoin([lab[1], lab[2]]).copy(interpretation="lab")
        result = result.colourspace("srgb")
    result = result.sharpen(sigma=SHARPEN_SIGMA).cast("uchar")
    return _encode(result, quality)


def upscale(source_path: str, scale: int, limits: ImageLimits, max_pixels: int) -> Encoded:
    """`scale` times larger with lanczos3; BAD_INPUT when the output would pass `max_pixels`."""
    if scale not in (2, 4):
        raise BadInputError(f"scale must be 2 or 4, got {scale}")
    header = read_header(source_path)
    width, height = header.upright
    if width * scale * height * scale > max_pixels:
        raise BadInputError(
            f"{width}x{height} upscaled {scale}x is {width * scale}x{height * scale}, over "
            f"the {max_pixels / 1e6:.0f} MP output limit"
        )
    check_file_size(source_path, limits)
    check_pixels(header, limits)
    if header.format == "heif":  # HEVC: only through pi_heif, in memory
        image = _upright_in_memory(source_path, limits)
    else:  # streamed top to bottom when no rotation needs the whole image
        access = "sequential" if header.orientation == 1 else "random"
        source = pyvips.Source.new_from_file(source_path)
        image = pyvips.Image.new_from_source(source, "", access=access, fail_on="error")
        image = flatten_alpha(to_srgb(autorotate(image)), "jpeg")
    try:
        return _encode(image.resize(scale, kernel="lanczos3"), 90, progressive=False)
    except pyvips.Error as exc:
        raise BadInputError(f"cannot process this image: {_reason(exc)}") from exc


def placeholder(prompt: str, width: int, height: int) -> Encoded:
    """A gradient with the prompt written on it, labelled synthetic in pixels and metadata."""
    xyz = pyvips.Image.xyz(width, height)
    red = xyz[0] / max(width - 1, 1) * 120 + 60
    blue = xyz[1] / max(height - 1, 1) * 120 + 80
    image = red.bandjoin([red * 0 + 70, blue]).cast("uchar").copy(interpretation="srgb")
    lines = "\n".join(textwrap.wrap(prompt, 40)[:8])
    text = f"<b>{html.escape(SYNTHETIC_LABEL)}</b>\n\n{html.escape(lines)}"
    dpi = max(36, min(width, height) // 6)
    mask = pyvips.Image.text(text, width=int(width * 0.85), dpi=dpi, rgba=False)
    mask = mask.embed((width - mask.width) // 2, (height - mask.height) // 2, width, height)
    image = (image * (255 - mask) / 255 + mask).cast("uchar").copy(interpretation="srgb")
    image.set_type(pyvips.GValue.gstr_type, "exif-ifd0-ImageDescription", SYNTHETIC_LABEL)
    return _encode(image, 90, keep="exif")


def to_jpeg(data: bytes, limits: ImageLimits, quality: int) -> Encoded:
    """A provider's image, checked like an upload, as a JPEG: re-encoded unless it already is
    an upright sRGB JPEG (ours, from the local providers), which is kept byte for byte."""
    if not data:
        raise BadInputError("the provider returned an empty image")
    if len(data) > limits.max_input_bytes:
        raise BadInputError("the provider returned an image over the size limit")
    try:
        image = pyvips.Image.new_from_buffer(data, "", access="sequential", fail_on="error")
        if image.width * image.height > limits.max_pixels:
            raise BadInputError("the provider returned an image over the pixel limit")
        if _plain_jpeg(image):
            image.avg()  # decodes every pixel: a truncated JPEG fails here
            return Encoded(data, int(image.width), int(image.height))
        image = flatten_alpha(to_srgb(autorotate(image)), "jpeg")
        return _encode(image, quality)
    except pyvips.Error as exc:
        raise BadInputError(f"the provider's image cannot be read: {_reason(exc)}") from exc


def _plain_jpeg(image: VipsImage) -> bool:
    loader = str(image.get("vips-loader"))
    oriented = image.get_typeof("orientation") and int(image.get("orientation")) != 1
    return loader.startswith("jpegload") and image.interpretation == "srgb" and not oriented


def clahe(grey: np.ndarray, tiles: int = CLAHE_TILES, clip: float = CLAHE_CLIP) -> np.ndarray:
    """Contrast-limited adaptive histogram equalisation of an 8-bit one-band image."""
    pixels = grey.reshape(grey.shape[0], grey.shape[1])
    rows, columns = pixels.shape
    tiles_y, tiles_x = min(tiles, rows), min(tiles, columns)
    tile_h, tile_w = math.ceil(rows / tiles_y), math.ceil(columns / tiles_x)
    luts = _tile_luts(pixels, tiles_y, tiles_x, tile_h, tile_w, clip)
    y0, y1, wy = _neighbours(rows, tile_h, tiles_y)
    x0, x1, wx = _neighbours(columns, tile_w, tiles_x)
    out = np.empty_like(pixels)
    for top in range(0, rows, STRIP_ROWS):
        strip = slice(top, min(top + STRIP_ROWS, rows))
        values = pixels[strip]
        a, b = y0[strip, None], y1[strip, None]
        upper = luts[a, x0, values] * (1 - wx) + luts[a, x1, values] * wx
        lower = luts[b, x0, values] * (1 - wx) + luts[b, x1, values] * wx
        weight = wy[strip, None]
        out[strip] = np.clip(upper * (1 - weight) + lower * weight + 0.5, 0, 255)
    return out


def _tile_luts(
    pixels: np.ndarray, tiles_y: int, tiles_x: int, tile_h: int, tile_w: int, clip: float
) -> np.ndarray:
    """One 256-entry mapping per tile, from its histogram clipped at `clip` x the mean."""
    pad = ((0, tiles_y * tile_h - pixels.shape[0]), (0, tiles_x * tile_w - pixels.shape[1]))
    padded = np.pad(pixels, pad, mode="reflect" if min(pixels.shape) > 1 else "edge")
    tiled = padded.reshape(tiles_y, tile_h, tiles_x, tile_w).transpose(0, 2, 1, 3)
    blocks = tiled.reshape(tiles_y * tiles_x, tile_h * tile_w).astype(np.int64)
    offsets = np.arange(tiles_y * tiles_x, dtype=np.int64)[:, None] * 256
    counts = np.bincount((blocks + offsets).ravel(), minlength=tiles_y * tiles_x * 256)
    hist = counts.reshape(tiles_y, tiles_x, 256).astype(np.float32)
    limit = max(1.0, clip * tile_h * tile_w / 256)
    excess = np.maximum(hist - limit, 0).sum(axis=-1, keepdims=True)
    hist = np.minimum(hist, limit) + excess / 256
    cdf = hist.cumsum(axis=-1)
    low = cdf[..., :1]
    span = np.maximum(cdf[..., -1:] - low, 1)
    result: np.ndarray = ((cdf - low) / span * 255).astype(np.float32)
    return result


def _neighbours(size: int, tile: int, tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each row (or column): the tiles whose centres surround it, and the weight of the
    second."""
    position = (np.arange(size, dtype=np.float32) + 0.5) / tile - 0.5
    first = np.clip(np.floor(position), 0, tiles - 1).astype(np.intp)
    second = np.minimum(first + 1, tiles - 1)
    weight = np.clip(position - first, 0, 1).astype(np.float32)
    return first, second, weight


def _blend(original: VipsImage, equalised: np.ndarray) -> VipsImage:
    shaped = equalised.reshape(equalised.shape[0], equalised.shape[1], 1)
    eq = pyvips.Image.new_from_array(np.ascontiguousarray(shaped))
    eq = eq.copy(interpretation=original.interpretation)
    return (original * (1 - STRENGTH) + eq * STRENGTH).cast("uchar")


def _encode(
    image: VipsImage, quality: int, keep: str = "none", *, progressive: bool = True
) -> Encoded:
    data = image.jpegsave_buffer(
        Q=quality, interlace=progressive, optimize_coding=progressive, keep=keep
    )
    return Encoded(bytes(data), int(image.width), int(image.height))


def _reason(exc: pyvips.Error) -> str:
    lines = [line for line in str(exc.detail or exc.message).splitlines() if line.strip()]
    return lines[-1][:120] if lines else "libvips error"
