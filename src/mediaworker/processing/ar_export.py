"""AR assets of a design: GLB, USDZ and a still image of a poster or a mug. Pure, a path in.

`make_ar_export` runs these steps, top to bottom:

1. load_design     the checks of `image.py` (file size, header, pixels: nothing decoded before
                   they pass), one decode shrunk to fit `texture_max_px`, the EXIF orientation
                   applied, sRGB, transparency onto white, three bands
2. encode_texture  once, as a baseline JPEG: the GLB and the USDZ embed the same bytes
3. build_model     `geometry.poster` or `geometry.mug` at the design's aspect ratio and the
                   product's real-world width
4. to_glb          binary glTF 2.0 (`gltf.py`)
5. to_usdz         USDZ for AR Quick Look (`usdz.py`)
6. render_still    the model drawn by `still.py`, as a palette PNG

A libvips failure is a `BadInputError`: the same file would fail the same way again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing import decode, geometry, gltf, image, still, usdz
from mediaworker.processing.decode import ImageLimits, VipsImage

__all__ = ["ArExport", "ArSpec", "Product", "make_ar_export"]

Product = Literal["poster", "mug"]
TEXTURE_QUALITY = 85
# The still is a dithered 8-bit palette PNG (libimagequant): 4-5x smaller than 24-bit (130 KB
# against 640 KB for a 1024 px poster), which link previews fetch; banding is not visible.
STILL_QUALITY = 90
STILL_VIEWS: dict[str, still.View] = {
    "poster": still.View(azimuth_deg=-22, elevation_deg=6),
    "mug": still.View(azimuth_deg=28, elevation_deg=16),  # the print and the handle
}


@dataclass(frozen=True)
class ArSpec:
    product: Product
    width_m: float  # the poster's width; the mug's diameter (its height follows)
    handle: bool = True  # mug only
    texture_max_px: int = 2048
    still_px: int = 1024


@dataclass(frozen=True)
class ArExport:
    product: str
    glb: bytes
    usdz: bytes
    still_png: bytes
    still_px: int
    texture_width: int
    texture_height: int
    size_m: tuple[float, float, float]  # width, height, depth of the model


def make_ar_export(source_path: str, spec: ArSpec, limits: ImageLimits) -> ArExport:
    """GLB, USDZ and a PNG still of `spec.product` with the design at `source_path`."""
    design = load_design(source_path, spec.texture_max_px, limits)
    try:
        texture = encode_texture(design)
        pixels = design.numpy()
    except pyvips.Error as exc:
        raise BadInputError("cannot process this image") from exc
    model = build_model(spec, design.width / design.height)
    return ArExport(
        product=spec.product,
        glb=gltf.to_glb(model, texture),
        usdz=usdz.to_usdz(model, texture),
        still_png=render_still(model, pixels, spec),
        still_px=spec.still_px,
        texture_width=int(design.width),
        texture_height=int(design.height),
        size_m=model.size_m,
    )


# 1. load_design


def load_design(path: str, max_px: int, limits: ImageLimits) -> VipsImage:
    """The design, upright, sRGB, 3 bands, fitted inside max_px x max_px, never enlarged."""
    decode.check_file_size(path, limits)
    header = decode.read_header(path)
    decode.check_pixels(header, limits)
    width, height = header.upright
    scale = min(1.0, max_px / max(width, height))
    box = (max(1, round(width * scale)), max(1, round(height * scale)))
    try:
        decoded = decode.decode_once(path, header, box)
        design = image.flatten_alpha(image.to_srgb(image.autorotate(decoded)), "jpeg")
        if design.bands == 1:
            design = design.colourspace("srgb")
        return design.copy_memory()
    except pyvips.Error as exc:
        raise BadInputError("cannot process this image") from exc


# 2. encode_texture


def encode_texture(design: VipsImage) -> bytes:
    """Baseline JPEG (every glTF and USD reader takes it), optimised tables, no metadata."""
    data = design.jpegsave_buffer(Q=TEXTURE_QUALITY, optimize_coding=True, keep="none")
    return bytes(data)


# 3. build_model


def build_model(spec: ArSpec, aspect: float) -> geometry.Model:
    if spec.product == "poster":
        return geometry.poster(aspect, spec.width_m)
    if spec.product == "mug":
        return geometry.mug(aspect, spec.width_m, handle=spec.handle)
    raise ValueError(f"unknown product {spec.product!r}")


# 6. render_still


def render_still(model: geometry.Model, pixels: np.ndarray, spec: ArSpec) -> bytes:
    rgb = still.render(model, pixels, spec.still_px, STILL_VIEWS[spec.product])
    picture = pyvips.Image.new_from_array(rgb).copy(interpretation="srgb")
    data = picture.pngsave_buffer(compression=9, palette=True, Q=STILL_QUALITY, keep="none")
    return bytes(data)
