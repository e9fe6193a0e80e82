"""Thumbnails from an image file with libvips: pure and synchronous, a path in, bytes out.

`make_thumbnails` runs these steps, top to bottom, and each is a function below, in order:

1-4.                the file read by processing/decode.py: its size and pixel count against
                    the limits, then one strict decode shrunk on load to what the most
                    demanding size needs
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

import functools
import math
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing import blurhash
from mediaworker.processing.decode import (
    ImageLimits,
    VipsImage,
    check_file_size,
    check_pixels,
    cmyk_profile_path,
    decode_once,
    orientation_of,
    read_header,
    vips_reason,
)

__all__ = [
    "EncodeSpec",
    "ImageLimits",
    "Rendition",
    "SizeSpec",
    "Thumbnails",
    "configure_libvips",
    "load_upright",
    "make_thumbnails",
    "thumbnails_of",
    "warm_up",
]

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
        raise BadInputError(f"cannot process this image: {vips_reason(exc)}") from exc
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
        raise BadInputError(f"cannot process this image: {vips_reason(exc)}") from exc
    return Thumbnails(source_format, width, height, renditions, placeholder)


def load_upright(path: str, limits: ImageLimits, box: tuple[int, int] | None = None) -> VipsImage:
    """The image of an untrusted file, checked against `limits` and decoded once to fit `box`
    (upright pixels; its own size when None), then upright, sRGB, any alpha on white: what the
    pipelines that are not thumbnails start from. A decode that libvips refuses raises
    `pyvips.Error` for the caller to word."""
    check_file_size(path, limits)
    header = read_header(path)
    check_pixels(header, limits)
    decoded = decode_once(path, header, header.upright if box is None else box)
    return flatten_alpha(to_srgb(autorotate(decoded)), "jpeg")


# 5. autorotate


def autorotate(image: VipsImage) -> VipsImage:
    """Apply the EXIF orientation (1-8) and drop the tag; an upright image is returned as is."""
    return image if orientation_of(image) == 1 else image.autorot()


# 6. to_srgb


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
            "srgb", input_profile=cmyk_profile_path(), embedded=True, intent="perceptual"
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


def _icc_colour_space(image: VipsImage) -> str | None:
    """The colour space of the embedded ICC profile ("RGB", "CMYK", "GRAY", ...), or None."""
    if not image.get_typeof("icc-profile-data"):
        return None
    profile = bytes(image.get("icc-profile-data"))
    return profile[16:20].decode("latin-1").strip() if len(profile) >= 20 else None
