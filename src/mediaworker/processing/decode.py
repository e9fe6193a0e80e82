"""Reading an untrusted image file: steps 1 to 4 of the thumbnail pipeline (processing/image.py
runs the rest), pure and synchronous.

1. check_file_size  `os.stat` against `max_input_bytes`; an empty file is refused
2. read_header      format, size and orientation from the header; no pixel is decoded
3. check_pixels     width x height from the header against `max_pixels` (`max_gif_pixels` for
                    a GIF, whose frame is decoded whole)
4. decode_once      one strict decode for every size, shrunk on load (JPEG DCT scaling, WebP
                    scaled decode) to what the most demanding size needs; plain JPEGs through
                    libjpeg-turbo (processing/jpeg.py), HEIC, which the libvips wheel cannot
                    decode (no HEVC), through pi_heif

Every libvips failure here becomes a `BadInputError` with a short message.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import tempfile
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
import pi_heif
import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing import jpeg

__all__ = [
    "Header",
    "ImageLimits",
    "check_file_size",
    "check_pixels",
    "cmyk_profile_path",
    "decode_once",
    "orientation_of",
    "read_header",
    "vips_reason",
]

VipsImage = Any  # pyvips ships no type information

ACCEPTED_LOADERS = frozenset({"jpeg", "png", "webp", "gif", "tiff", "heif"})
NOT_AN_IMAGE = "not an image (or a format this worker cannot read)"
CORRUPT = "corrupt or truncated image"


@dataclass(frozen=True)
class ImageLimits:
    max_input_bytes: int
    max_pixels: int
    max_gif_pixels: int | None = None  # a GIF frame is decoded whole: a lower cap


@dataclass(frozen=True)
class Header:
    format: str
    width: int  # as stored, before the orientation is applied
    height: int
    orientation: int  # EXIF 1-8; 5-8 swap width and height
    bands: int = 3
    icc_profile: bytes | None = None

    @property
    def upright(self) -> tuple[int, int]:
        return (self.height, self.width) if self.orientation >= 5 else (self.width, self.height)


# 1. check_file_size


def check_file_size(path: str, limits: ImageLimits) -> None:
    size = os.stat(path).st_size
    if size == 0:
        raise BadInputError("empty file (0 bytes)")
    if size > limits.max_input_bytes:
        raise BadInputError(
            f"file is {_bytes_text(size)}, over the {_bytes_text(limits.max_input_bytes)} limit"
        )


# 2. read_header


def read_header(path: str) -> Header:
    """Loader, size and orientation; libvips reads only the header here."""
    # A Source, not new_from_file: libvips would parse "name.jpg[option=...]" out of a path.
    source = pyvips.Source.new_from_file(path)
    try:
        image = pyvips.Image.new_from_source(source, "", access="sequential")
    except pyvips.Error as exc:
        raise BadInputError(_load_failure_message(exc)) from exc
    loader = str(image.get("vips-loader")).removesuffix("_source").removesuffix("load")
    if loader not in ACCEPTED_LOADERS:
        raise BadInputError(NOT_AN_IMAGE)
    return Header(
        format=_format_name(image, loader),
        width=int(image.width),
        height=int(image.height),
        orientation=orientation_of(image),
        bands=int(image.bands),
        icc_profile=_icc_profile(image),
    )


# 3. check_pixels


def check_pixels(header: Header, limits: ImageLimits) -> None:
    pixels = header.width * header.height
    limit, what = limits.max_pixels, ""
    if header.format == "gif" and limits.max_gif_pixels is not None:
        limit, what = min(limit, limits.max_gif_pixels), " for a GIF"
    if pixels > limit:
        raise BadInputError(
            f"image is {header.width}x{header.height} ({_megapixels(pixels)} MP), "
            f"over the {_megapixels(limit)} MP limit{what}"
        )


# 4. decode_once


def decode_once(
    path: str, header: Header, box: tuple[int, int], *, jpeg_eighths: bool = False
) -> VipsImage:
    """The decoded image, fitted inside `box` (upright pixels), in memory, not yet rotated.

    JPEG and WebP decode straight to a power-of-two fraction of their size that still covers
    the box (DCT scaling; Pillow's `draft()` and sharp's fastShrinkOnLoad do the same), and a
    Lanczos reduce does the rest. libvips' own thumbnail keeps a factor of two for that reduce
    and so decodes a 6000x4000 JPEG at full size for a 1920x1080: a 1.6x slower decode
    (scripts/bench_thumbnails.py). Decoding is strict: truncated or corrupt files fail here,
    not as grey bands.
    """
    width, height = box if header.orientation < 5 else box[::-1]
    try:
        image = None
        if header.format == "jpeg":
            image = _decode_jpeg(path, header, width, height, eighths=jpeg_eighths)
        if image is None:
            image = _load(path, header, _load_shrink(header, width, height))
        fits = image.width <= width and image.height <= height
        if fits and image.interpretation != "cmyk":  # a poster frame: nothing to reduce
            return image.copy_memory()
        options: dict[str, Any] = {"size": "down", "no_rotate": True}
        if image.interpretation == "cmyk":  # thumbnail converts CMYK to sRGB itself
            options["import_profile"] = cmyk_profile_path()
        return image.thumbnail_image(width, height=height, **options).copy_memory()
    except pyvips.Error as exc:
        if header.format != "heif":
            raise BadInputError(_corrupt_message(exc)) from exc
    return _decode_with_pi_heif(path, width, height)


def _decode_jpeg(
    path: str, header: Header, width: int, height: int, *, eighths: bool = False
) -> VipsImage | None:
    """A plain JPEG through libjpeg-turbo, with the header's profile and orientation; None for
    what libvips must decode (CMYK, anything libjpeg warns about). At the halves libvips
    uses (the same pixels), or with `eighths` at any eighth that covers width x height."""
    if eighths:
        min_width, min_height = width, height
    else:
        shrink = _load_shrink(header, width, height)
        min_width, min_height = -(-header.width // shrink), -(-header.height // shrink)
    pixels = jpeg.decode_scaled(
        path, bands=header.bands, min_width=min_width, min_height=min_height
    )
    if pixels is None:
        return None
    rows, columns, bands = pixels.shape
    image = pyvips.Image.new_from_memory(pixels.data, columns, rows, bands, "uchar")
    image = image.copy(interpretation="b-w" if bands == 1 else "srgb")
    if header.icc_profile:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", header.icc_profile)
    if header.orientation != 1:
        image.set_type(pyvips.GValue.gint_type, "orientation", header.orientation)
    return image


def _load(path: str, header: Header, shrink: int = 1) -> VipsImage:
    """The first page or frame, strictly, with the format's own size guards on."""
    options: dict[str, Any] = {"access": "sequential", "fail_on": "error"}
    if header.format in ("png", "tiff", "heif", "avif"):
        options["unlimited"] = False  # libpng, libtiff and libheif keep their limits
    if shrink > 1 and header.format == "jpeg":
        options["shrink"] = shrink
    elif shrink > 1 and header.format == "webp":
        options["scale"] = 1 / shrink
    source = pyvips.Source.new_from_file(path)
    return pyvips.Image.new_from_source(source, "", **options)


def _decode_with_pi_heif(path: str, width: int, height: int) -> VipsImage:
    """HEIC through pi_heif (libheif with libde265), which applies HEIF rotation itself."""
    try:
        heif = pi_heif.open_heif(path, convert_hdr_to_8bit=True)
        pixels = np.ascontiguousarray(np.asarray(heif), dtype=np.uint8)
    except (ValueError, RuntimeError, OSError, EOFError) as exc:
        raise BadInputError(f"{CORRUPT}: {_first_line(str(exc))}") from exc
    if pixels.ndim == 2:
        pixels = pixels[:, :, np.newaxis]
    rows, columns, bands = pixels.shape
    image = pyvips.Image.new_from_memory(pixels, columns, rows, bands, "uchar")
    image = image.copy(interpretation="srgb" if bands >= 3 else "b-w")
    profile = heif.info.get("icc_profile")
    if profile:
        image.set_type(pyvips.GValue.blob_type, "icc-profile-data", bytes(profile))
    return image.thumbnail_image(width, height=height, size="down").copy_memory()


@functools.cache
def cmyk_profile_path() -> str:
    """libvips' built-in CMYK profile, as a file.

    Naming the built-in profile ("cmyk") in icc_transform crashes libvips 8.18 when its operation
    cache is off, as it is in our workers; the same profile read from a file does not.
    """
    blob = pyvips.Operation.call("profile_load", "cmyk")
    fd, path = tempfile.mkstemp(prefix="mediaworker-cmyk-", suffix=".icc")
    with os.fdopen(fd, "wb") as out:
        out.write(blob)
    atexit.register(os.unlink, path)
    return path


def _load_shrink(header: Header, width: int, height: int) -> int:
    """The largest of 8, 4 or 2 that still leaves the stored image at least width x height."""
    if header.format not in ("jpeg", "webp"):
        return 1
    fits = (n for n in (8, 4, 2) if header.width // n >= width and header.height // n >= height)
    return next(fits, 1)


def _format_name(image: VipsImage, loader: str) -> str:
    if loader == "heif" and image.get_typeof("heif-compression"):
        return "avif" if image.get("heif-compression") == "av1" else "heif"
    return loader


def orientation_of(image: VipsImage) -> int:
    if not image.get_typeof("orientation"):
        return 1
    value = int(image.get("orientation"))
    return value if 1 <= value <= 8 else 1


def _icc_profile(image: VipsImage) -> bytes | None:
    return bytes(image.get("icc-profile-data")) if image.get_typeof("icc-profile-data") else None


def _load_failure_message(exc: pyvips.Error) -> str:
    if "known format" in str(exc.detail or ""):
        return NOT_AN_IMAGE
    return _corrupt_message(exc)


def _corrupt_message(exc: pyvips.Error) -> str:
    reason = vips_reason(exc)
    return f"{CORRUPT}: {reason}" if reason else CORRUPT


def vips_reason(exc: pyvips.Error) -> str:
    """The last line of libvips' error log, without its "VipsJpeg: " style prefix."""
    lines = [line.strip() for line in str(exc.detail or "").splitlines()]
    worded = [line for line in lines if re.search(r"[A-Za-z]{3}", line)]  # not "(2.100)"
    if not worded:
        return ""
    prefix, separator, rest = worded[-1].partition(": ")
    reason = rest if separator and " " not in prefix else worded[-1]
    return textwrap.shorten(reason, width=120, placeholder=" …")


def _first_line(text: str) -> str:
    line = (text.strip().splitlines() or ["unreadable"])[0]
    return textwrap.shorten(line, width=120, placeholder=" …")


def _megapixels(pixels: int) -> str:
    value = pixels / 1e6
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _bytes_text(size: int) -> str:
    return f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size} bytes"
