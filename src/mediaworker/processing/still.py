"""A still image of a `geometry.Model`: a small software rasteriser in numpy.

What link previews and model-viewer's `poster` show before the 3D model loads: the real mesh
and texture, drawn by these steps:

1. camera      a perspective camera (30 degree field of view) on a sphere around the model's
               bounding box, at the product's azimuth and elevation, framing the whole model
2. cull        triangles facing away from the camera are dropped (every mesh is closed or its
               open ends are hidden inside the mug's wall)
3. rasterise   per triangle, the pixel centres of its bounding box, their barycentric weights
               and depth (1/w, linear on screen); the nearest triangle wins a pixel (z-buffer)
4. shade       per covered pixel, perspective-correct normal and UV; base colour times the
               bilinear texture sample, in linear light; Lambert with a key and a fill light
               over an ambient term; then sRGB
5. resolve     rendered at `SUPERSAMPLE` times the size over a flat light grey, averaged
               down: anti-aliased edges
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyvips

from mediaworker.processing.geometry import Model

__all__ = ["View", "render"]

FOV_DEG = 30.0
FRAME_MARGIN = 1.12  # the bounding sphere, a little larger, fills the frame
SUPERSAMPLE = 2
KEY_LIGHT = np.array([-0.45, 0.7, 0.55])  # from the upper left, in front
FILL_LIGHT = np.array([0.7, 0.2, 0.4])
KEY, FILL, AMBIENT = 0.75, 0.25, 0.3
SAMPLE_ROW = 4096  # texture lookups are laid out as an image this wide for libvips
# sRGB grey level of the background: flat, so the palette PNG keeps it exact, undithered
BACKGROUND = 0.9


@dataclass(frozen=True)
class View:
    azimuth_deg: float  # 0 looks at the front (+Z); positive turns the camera towards +X
    elevation_deg: float


@dataclass(frozen=True)
class _Triangles:
    screen: np.ndarray  # (t, 3, 2) pixel coordinates
    inv_w: np.ndarray  # (t, 3) 1 / view depth
    normals: np.ndarray  # (t, 3, 3)
    uvs: np.ndarray  # (t, 3, 2)
    colour: np.ndarray  # (t, 3) linear base colour
    textured: np.ndarray  # (t,) bool


def render(model: Model, texture: np.ndarray, size_px: int, view: View) -> np.ndarray:
    """An RGB uint8 image `size_px` square of `model`, its design `texture` (rows, cols, 3)."""
    side = size_px * SUPERSAMPLE
    triangles = _camera_and_cull(model, view, side)
    owner, weights = _rasterise(triangles, side)
    linear = _shade(triangles, owner, weights, texture, side)
    resolved = np.zeros((size_px, size_px, 3), np.float32)
    for dy in range(SUPERSAMPLE):
        for dx in range(SUPERSAMPLE):
            resolved += linear[dy::SUPERSAMPLE, dx::SUPERSAMPLE]
    return _to_srgb(resolved / SUPERSAMPLE**2).round().astype(np.uint8)


# 1. camera and 2. cull


@dataclass(frozen=True)
class _Camera:
    eye: np.ndarray
    forward: np.ndarray
    right: np.ndarray
    up: np.ndarray
    focal: float  # 1 / tan(half the field of view)


def _camera(model: Model, view: View) -> _Camera:
    """On the bounding sphere's axis at the view's angles, far enough to frame all of it."""
    low, high = model.bounds()
    centre = (low + high).astype(np.float64) / 2
    radius = float(np.linalg.norm(high - low)) / 2 * FRAME_MARGIN
    focal = 1 / math.tan(math.radians(FOV_DEG) / 2)
    azimuth, elevation = math.radians(view.azimuth_deg), math.radians(view.elevation_deg)
    direction = np.array(
        [
            math.sin(azimuth) * math.cos(elevation),
            math.sin(elevation),
            math.cos(azimuth) * math.cos(elevation),
        ]
    )
    right = np.cross(-direction, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    return _Camera(
        centre + direction * radius * focal, -direction, right, np.cross(right, -direction), focal
    )


def _camera_and_cull(model: Model, view: View, side: int) -> _Triangles:
    camera = _camera(model, view)
    parts = model.parts
    corners = np.concatenate([p.positions[p.indices].astype(np.float64) for p in parts])
    normals = np.concatenate([p.normals[p.indices] for p in parts])
    no_uvs = [np.zeros((len(p.positions), 2), np.float32) for p in parts]
    uvs = np.concatenate(
        [
            (p.uvs if p.uvs is not None else none)[p.indices]
            for p, none in zip(parts, no_uvs, strict=True)
        ]
    )
    counts = [len(p.indices) for p in parts]
    colour = np.repeat([p.material.base_colour for p in parts], counts, axis=0)
    textured = np.repeat([p.material.textured for p in parts], counts)

    face = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    front = np.einsum("ij,ij->i", face, camera.eye - corners[:, 0]) > 0
    relative = corners[front] - camera.eye
    scale = camera.focal * side / 2 / (relative @ camera.forward)
    screen = side / 2 + np.stack(
        [relative @ camera.right * scale, -(relative @ camera.up) * scale], -1
    )
    return _Triangles(
        screen.astype(np.float32),
        (1 / (relative @ camera.forward)).astype(np.float32),
        normals[front],
        uvs[front],
        colour[front].astype(np.float32),
        textured[front],
    )


# 3. rasterise


def _rasterise(tri: _Triangles, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Per pixel: the index of the nearest triangle (-1: none) and its screen barycentrics."""
    nearest = np.zeros(side * side, np.float32)
    owner = np.full(side * side, -1, np.int32)
    weights = np.zeros((side * side, 3), np.float32)
    for index in range(len(tri.screen)):
        covered = _cover(tri.screen[index], side)
        if covered is None:
            continue
        flat, barycentric = covered
        z = barycentric @ tri.inv_w[index]
        closer = z > nearest[flat]
        flat = flat[closer]
        nearest[flat] = z[closer]
        owner[flat] = index
        weights[flat] = barycentric[closer]
    return owner, weights


def _cover(corners: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The pixels whose centres the triangle covers (flat indices) and their barycentrics.

    The weights are affine in x and y, so each is a row term plus a column term, broadcast
    over the triangle's bounding box."""
    (x0, y0), (x1, y1), (x2, y2) = corners
    area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
    left, right = max(0, math.floor(min(x0, x1, x2))), min(side - 1, math.ceil(max(x0, x1, x2)))
    top, bottom = max(0, math.floor(min(y0, y1, y2))), min(side - 1, math.ceil(max(y0, y1, y2)))
    if abs(area) < 1e-9 or left > right or top > bottom:
        return None
    columns = np.arange(left, right + 1, dtype=np.int32)
    rows = np.arange(top, bottom + 1, dtype=np.int32)
    dx, dy = columns + np.float32(0.5 - x0), rows + np.float32(0.5 - y0)
    b1 = (dx * ((y2 - y0) / area))[None, :] - (dy * ((x2 - x0) / area))[:, None]
    b2 = (dy * ((x1 - x0) / area))[:, None] - (dx * ((y1 - y0) / area))[None, :]
    b0 = 1 - b1 - b2
    inside = (b0 >= 0) & (b1 >= 0) & (b2 >= 0)
    if not inside.any():
        return None
    flat = (rows[:, None] * np.int32(side) + columns[None, :])[inside]
    return flat, np.stack([b0[inside], b1[inside], b2[inside]], axis=-1)


# 4. shade


def _shade(
    tri: _Triangles, owner: np.ndarray, weights: np.ndarray, texture: np.ndarray, side: int
) -> np.ndarray:
    image = np.full((side * side, 3), _to_linear_value(BACKGROUND), np.float32)
    covered = np.flatnonzero(owner >= 0)
    if covered.size == 0:
        return image
    index = owner[covered]
    perspective = weights[covered] * tri.inv_w[index].astype(np.float32)
    perspective /= perspective.sum(axis=1, keepdims=True)
    normal = _interpolate(perspective, tri.normals[index])
    normal /= np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-12)
    albedo = tri.colour[index].astype(np.float32)
    textured = tri.textured[index]
    if textured.any():
        uv = _interpolate(perspective[textured], tri.uvs[index[textured]])
        albedo[textured] *= _sample(texture, uv)
    light = (
        AMBIENT
        + KEY * np.clip(normal @ _unit(KEY_LIGHT), 0, None)
        + FILL * np.clip(normal @ _unit(FILL_LIGHT), 0, None)
    )
    image[covered] = albedo * light[:, None]
    return image.reshape(side, side, 3)


def _sample(texture: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Bilinear samples (libvips `mapim`) of an sRGB texture at UVs (origin top left), clamped,
    in linear light."""
    rows, columns = texture.shape[:2]
    count = len(uv)
    width = min(count, SAMPLE_ROW)
    height = -(-count // width)
    coords = np.zeros((height * width, 2), np.float32)
    coords[:count, 0] = np.clip(uv[:, 0] * columns - 0.5, 0, columns - 1)
    coords[:count, 1] = np.clip(uv[:, 1] * rows - 0.5, 0, rows - 1)
    index = pyvips.Image.new_from_array(coords.reshape(height, width, 2))
    source = pyvips.Image.new_from_array(np.ascontiguousarray(texture[..., :3]))
    sampled = source.mapim(index, interpolate=pyvips.Interpolate.new("bilinear")).numpy()
    return _to_linear(sampled.reshape(-1, 3)[:count])


def _interpolate(weights: np.ndarray, corners: np.ndarray) -> np.ndarray:
    """(p, 3) weights times (p, 3, c) corner values: (p, c)."""
    result: np.ndarray = (
        weights[:, 0:1] * corners[:, 0]
        + weights[:, 1:2] * corners[:, 1]
        + weights[:, 2:3] * corners[:, 2]
    )
    return result


# Colour


def _unit(vector: np.ndarray) -> np.ndarray:
    unit: np.ndarray = vector / np.linalg.norm(vector)
    return unit


def _to_linear_value(value: float) -> float:
    return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4


def _to_linear(texture: np.ndarray) -> np.ndarray:
    levels = np.arange(256, dtype=np.float64) / 255
    table = np.where(levels <= 0.04045, levels / 12.92, ((levels + 0.055) / 1.055) ** 2.4)
    linear: np.ndarray = table.astype(np.float32)[texture[..., :3]]
    return linear


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    value = np.clip(linear, 0, 1)
    srgb = np.where(value <= 0.0031308, value * 12.92, 1.055 * np.power(value, 1 / 2.4) - 0.055)
    result: np.ndarray = srgb * 255
    return result
