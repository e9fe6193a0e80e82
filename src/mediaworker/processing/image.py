"""Thumbnails from an image file with libvips: pure and synchronous, a path in, bytes out.

`make_thumbnails` runs these steps, top to bottom, and each is a function below, in order:

1. check_file_size  `os.stat` against `max_input_bytes`; an empty file is refused
2. read_header      format, size and orientation from the header; no pixel is decoded
3. check_pixels     width x height from the header against `max_pixels` (`max_gif_pixels` for
                    a GIF, whose frame is decoded whole)
4. decode_once      one strict decode for every size, shrunk on load (JPEG DCT scaling, WebP
                    scaled decode) to what the most demanding size needs; plain JPEGs through
                    libjpeg-turbo (processing/jpeg.py), HEIC, which the libvips wheel cannot
                    decode (no HEVC), through pi_heif
5. autorotate       the EXIF orientation applied: everything after this is upright
6. to_srgb          CMYK and ICC-tagged images through their profile to sRGB; 16-bit to 8-bit;
                    greyscale stays greyscale (one band, 8-bit)
7. resize           each size from the smallest image made so far that is still big enough:
                    fit inside the box, or cover it and keep the most interesting part (libvips
                    attention crop); never enlarged, never below 1 pixel
8. flatten_alpha    JPEG only: transparency onto white; WebP and AVIF keep their alpha
9. encode           side by side, one thread each (libvips lets go of the GIL): every metadata
                    field stripped; JPEG progressive with optimised Huffman tables
                    (baseline for the sizes in `baseline_sizes`: IMAGE_JPEG_BASELINE_SIZES)
10. blurhash_of     4x3 components from a 32-pixel version of the whole image

Every libvips failure becomes a `BadInputError` with a short message: the same file would fail
the same way again, so it is not retried.
"""

from __future__ import annotations

import atexit
import functools
import math
import os
import re
import tempfile
import textwrap
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pi_heif
import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing import blurhash, jpeg

__all__ = [
    "EncodeSpec",
    "ImageLimits",
    "Rendition",
    "SizeSpec",
    "Thumbnails",
    "configure_libvips",
    "make_thumbnails",
    "thumbnails_of",
    "warm_up",
]

VipsImage = Any  # pyvips ships no type information

ACCEPTED_LOADERS = frozenset({"jpeg", "png", "webp", "gif", "tiff", "heif"})
ENCODINGS = {  # format -> (content type, file extension)
    "jpeg": ("image/jpeg", "jpg"),
    "webp": ("image/webp", "webp"),
    "avif": ("image/avif", "avif"),
}
# libvips' default AVIF effort (4) takes about 4 s for one 1920x1080 on one core; 2 takes ~1.4 s.
AVIF_EFFORT = 2
WHITE = 255
BLURHASH_SIDE = 32
BLURHASH_COMPONENTS = (4, 3)

NOT_AN_IMAGE = "not an image (or a format this worker cannot read)"
CORRUPT = "corrupt or truncated image"


@dataclass(frozen=True)
class ImageLimits:
    max_input_bytes: int
    max_pixels: int
    max_gif_pixels: int | None = None  # a GIF frame is decoded whole: a lower cap


@dataclass(frozen=True)
class SizeSpec:
    name: str  # "THUMBNAIL", "MEDIUM", "LARGE"
    width: int
    height: int
    crop: bool  # True: cover the box, attention crop; False: fit inside. Never enlarged.

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ValueError(
                f"size {self.name} must be at least 1x1, got {self.width}x{self.height}"
            )


@dataclass(frozen=True)
class EncodeSpec:
    format: str  # "jpeg" (progressive) | "webp" | "avif"
    quality: int
    baseline_sizes: frozenset[str] = frozenset()  # JPEG sizes written baseline, not progressive

    def __post_init__(self) -> None:
        if self.format not in ENCODINGS:
            raise ValueError(f"unknown output format {self.format!r}; use one of {list(ENCODINGS)}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1-100, got {self.quality}")


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes
    width: int
    height: int
    content_type: str  # "image/jpeg", "image/webp", "image/avif"
    ext: str  # "jpg" | "webp" | "avif"


@dataclass(frozen=True)
class Thumbnails:
    source_format: str  # "jpeg", "png", "webp", "gif", "tiff", "heif" (HEVC) or "avif"
    source_width: int  # upright, after the EXIF orientation
    source_height: int
    renditions: tuple[Rendition, ...]  # in the order of `sizes`
    blurhash: str


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


def configure_libvips(threads: int | None = None) -> None:
    """Process-wide libvips settings for a worker: no operation cache, no untrusted loaders,
    and `threads` threads per operation when given (the pool gives each of its processes
    its share of the cores)."""
    pyvips.cache_set_max(0)
    pyvips.block_untrusted_set(True)
    if threads is not None:
        pyvips.concurrency_set(threads)


def warm_up() -> None:
    """One small JPEG through every step, so a fresh process has its libraries loaded and its
    code paths touched before its first real image (the pool runs this at start-up)."""
    with tempfile.TemporaryDirectory(prefix="mediaworker-warm-") as folder:
        path = os.path.join(folder, "warm.jpg")
        xyz = pyvips.Image.xyz(320, 240)
        (xyz[0] ^ xyz[1]).cast("uchar").bandjoin([xyz[0], xyz[1]]).cast("uchar").copy(
            interpretation="srgb"
        ).jpegsave(path, Q=80)
        sizes = [SizeSpec("WARM", 64, 64, crop=True), SizeSpec("WARM", 160, 120, crop=False)]
        make_thumbnails(path, sizes, EncodeSpec("jpeg", 80), ImageLimits(1 << 20, 1 << 20))


def make_thumbnails(
    source_path: str,
    sizes: Sequence[SizeSpec],
    encode: EncodeSpec,
    limits: ImageLimits,
    jpeg_eighths: bool = False,
) -> Thumbnails:
    """Every size in `sizes` from one decode of `source_path`, plus a blurhash.

    `jpeg_eighths`: a plain JPEG is decoded at the smallest eighth of its size that covers
    `sizes`, not the smallest half (IMAGE_JPEG_DECODE_EIGHTHS: a little less CPU, a little
    less sharpness)."""
    if not sizes:
        raise ValueError("no sizes requested")
    check_file_size(source_path, limits)
    header = read_header(source_path)
    check_pixels(header, limits)
    width, height = header.upright
    try:
        box = _decode_box(width, height, sizes)
        decoded = decode_once(source_path, header, box, jpeg_eighths=jpeg_eighths)
    except pyvips.Error as exc:  # decoding errors are already BadInputError; this is the rest
        raise BadInputError(f"cannot process this image: {_vips_reason(exc)}") from exc
    return thumbnails_of(decoded, header.format, (width, height), sizes, encode)


def thumbnails_of(
    decoded: VipsImage,
    source_format: str,
    upright_size: tuple[int, int],
    sizes: Sequence[SizeSpec],
    encode: EncodeSpec,
) -> Thumbnails:
    """Steps 5 to 10 on an image in memory (a decode, or a video's frame): every size and the
    blurhash. `upright_size` is the source's own, before any shrink on load."""
    width, height = upright_size
    try:
        image = to_srgb(autorotate(decoded))
        image = decoded if image is decoded else image.copy_memory()
        resized, smallest_whole = resize_all(image, sizes, width, height)
        encoding = [
            _encoders().submit(encode_rendition, size, flatten_alpha(img, encode.format), encode)
            for size, img in zip(sizes, resized, strict=True)
        ]
        placeholder = blurhash_of(smallest_whole)  # meanwhile, on this thread
        renditions = tuple(job.result() for job in encoding)
    except pyvips.Error as exc:
        raise BadInputError(f"cannot process this image: {_vips_reason(exc)}") from exc
    return Thumbnails(source_format, width, height, renditions, placeholder)


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
        orientation=_orientation(image),
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
            options["import_profile"] = _cmyk_profile_path()
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


# 5. autorotate


def autorotate(image: VipsImage) -> VipsImage:
    """Apply the EXIF orientation (1-8) and drop the tag; an upright image is returned as is."""
    return image if _orientation(image) == 1 else image.autorot()


# 6. to_srgb


@functools.cache
def _cmyk_profile_path() -> str:
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


def to_srgb(image: VipsImage) -> VipsImage:
    """sRGB with 8 bits a band; greyscale stays greyscale.

    CMYK goes through its embedded profile or libvips' built-in CMYK profile, an RGB image with
    an embedded profile (Display P3, Adobe RGB, ...) through that profile; 16-bit and float
    images are scaled to 8 bits. A greyscale profile is ignored (grey gamma 2.2 is close to
    sRGB), and so is a profile that cannot be read.
    """
    if image.interpretation == "cmyk":
        # A CMYK profile is used when one is embedded, else libvips' built-in one. Reading the
        # profile here is what crashes libvips 8.18 on a CMYK JPEG without one (see below).
        return image.icc_transform(
            "srgb", input_profile=_cmyk_profile_path(), embedded=True, intent="perceptual"
        )
    profile_space = _icc_colour_space(image)
    if profile_space == "RGB" and image.bands >= 3:
        try:
            return image.icc_transform("srgb", embedded=True, intent="perceptual")
        except pyvips.Error:
            pass  # a broken profile: treat the pixels as sRGB
    target = "b-w" if image.interpretation in ("b-w", "grey16") else "srgb"
    if image.interpretation != target or image.format != "uchar":
        image = image.colourspace(target)
    return image if image.format == "uchar" else image.cast("uchar")


# 7. resize


def resize_all(
    image: VipsImage, sizes: Sequence[SizeSpec], width: int, height: int
) -> tuple[list[VipsImage], VipsImage]:
    """Each size, in the order of `sizes`, and the smallest uncropped image made.

    Sizes are made most demanding first, and each fit-inside result is the parent of the next:
    the 150x150 crop is cut from the 800x600, not from the 1920x1080.
    """
    order = sorted(
        range(len(sizes)),
        key=lambda i: (_scale_needed(sizes[i], width, height), sizes[i].crop),
        reverse=True,
    )
    results: dict[int, VipsImage] = {}
    parent = image
    for index in order:
        resized = resize(parent, sizes[index])
        results[index] = resized if resized is parent else resized.copy_memory()
        if not sizes[index].crop:
            parent = results[index]
    return [results[i] for i in range(len(sizes))], parent


def resize(image: VipsImage, size: SizeSpec) -> VipsImage:
    """Fit inside the box, or cover it and crop to the most interesting part; never enlarge."""
    if size.crop:
        return image.thumbnail_image(size.width, height=size.height, size="down", crop="attention")
    if image.width <= size.width and image.height <= size.height:
        return image
    return image.thumbnail_image(size.width, height=size.height, size="down")


# 8. flatten_alpha


def flatten_alpha(image: VipsImage, output_format: str) -> VipsImage:
    if output_format != "jpeg" or not image.hasalpha():
        return image
    return image.flatten(background=[WHITE] * (image.bands - 1))


# 9. encode


def encode_rendition(size: SizeSpec, image: VipsImage, spec: EncodeSpec) -> Rendition:
    content_type, ext = ENCODINGS[spec.format]
    return Rendition(
        name=size.name,
        data=encode_image(image, spec, progressive=size.name not in spec.baseline_sizes),
        width=int(image.width),
        height=int(image.height),
        content_type=content_type,
        ext=ext,
    )


def encode_image(image: VipsImage, spec: EncodeSpec, *, progressive: bool = True) -> bytes:
    """The encoded bytes, with no EXIF, XMP, IPTC or ICC metadata (keep="none"); a JPEG with
    optimised Huffman tables, progressive unless asked for baseline."""
    if spec.format == "jpeg":
        data = image.jpegsave_buffer(
            Q=spec.quality, interlace=progressive, optimize_coding=True, keep="none"
        )
    elif spec.format == "webp":
        data = image.webpsave_buffer(Q=spec.quality, keep="none")
    else:
        data = image.heifsave_buffer(
            Q=spec.quality, compression="av1", effort=AVIF_EFFORT, bitdepth=8, keep="none"
        )
    return bytes(data)


# 10. blurhash_of


def blurhash_of(image: VipsImage) -> str:
    tiny = flatten_alpha(
        image.thumbnail_image(BLURHASH_SIDE, height=BLURHASH_SIDE, size="down"), "jpeg"
    )
    if tiny.bands == 1:
        tiny = tiny.bandjoin([tiny, tiny])
    return blurhash.encode(tiny.numpy(), *BLURHASH_COMPONENTS)


# Helpers


@functools.cache
def _encoders() -> ThreadPoolExecutor:
    """Threads for the encodes of one image: the LARGE JPEG alone takes as long as the rest."""
    return ThreadPoolExecutor(max_workers=3, thread_name_prefix="mediaworker-encode")


def _decode_box(width: int, height: int, sizes: Sequence[SizeSpec]) -> tuple[int, int]:
    """The upright size to decode to: big enough for every size, at most the source size."""
    scale = max(_scale_needed(size, width, height) for size in sizes)
    # The small epsilon keeps 1080.0000001 from becoming 1081 and costing a second resize.
    return (
        max(1, math.ceil(width * scale - 1e-6)),
        max(1, math.ceil(height * scale - 1e-6)),
    )


def _scale_needed(size: SizeSpec, width: int, height: int) -> float:
    ratios = (size.width / width, size.height / height)
    return min(1.0, max(ratios) if size.crop else min(ratios))


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


def _orientation(image: VipsImage) -> int:
    if not image.get_typeof("orientation"):
        return 1
    value = int(image.get("orientation"))
    return value if 1 <= value <= 8 else 1


def _icc_profile(image: VipsImage) -> bytes | None:
    return bytes(image.get("icc-profile-data")) if image.get_typeof("icc-profile-data") else None


def _icc_colour_space(image: VipsImage) -> str | None:
    """The colour space of the embedded ICC profile ("RGB", "CMYK", "GRAY", ...), or None."""
    if not image.get_typeof("icc-profile-data"):
        return None
    profile = bytes(image.get("icc-profile-data"))
    return profile[16:20].decode("latin-1").strip() if len(profile) >= 20 else None


def _load_failure_message(exc: pyvips.Error) -> str:
    if "known format" in str(exc.detail or ""):
        return NOT_AN_IMAGE
    return _corrupt_message(exc)


def _corrupt_message(exc: pyvips.Error) -> str:
    reason = _vips_reason(exc)
    return f"{CORRUPT}: {reason}" if reason else CORRUPT


def _vips_reason(exc: pyvips.Error) -> str:
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
