"""Meshes of the AR products, in metres: pure numpy, no file format here.

Conventions (glTF's, which USD shares once its stage says Y up and metres):

- Y is up, the front faces +Z (where model-viewer's and AR Quick Look's first camera looks
  from); triangles are counter-clockwise seen from the side their normals point to.
- UVs have their origin at the top left of the design (glTF); `usdz.py` flips t for USD.

`poster(aspect, width_m)`  a card `width_m` wide and `width_m / aspect` high, `depth_m` deep:
    the design on its front (the whole image, u and v from 0 to 1), a blank paper back and
    edges. Centred in x and y, its back at z = 0, so wall placement puts it flat on the wall.
`mug(aspect, diameter_m)`  an 11 oz mug (82 mm across, 95 mm high, scaled with the diameter):
    outer and inner wall, rim, bottom, and a C-shaped handle on the right (+X). The design is
    printed on a band of the side, as large as the band allows at its aspect ratio: at most the
    height less `PRINT_MARGIN` above and below, and around at most the circumference less a
    gap at the handle; centred on the front when it clears that gap, else from the gap's
    left edge on round the back (a wrap-around print). u is proportional to the angle, so a
    texel covers the same arc everywhere (no stretching); the print's left and right edges
    are vertices of their own, so no triangle interpolates across the seam.

Every surface is a grid of points made by `_patch`, which orients each triangle to agree with
its normals and drops triangles of zero area (the centre of a disc).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["MUG_DIAMETER_M", "Material", "Model", "Part", "mug", "poster"]

POSTER_DEPTH_M = 0.004  # a poster on foam board; a canvas would be 0.02
MUG_DIAMETER_M = 0.082
MUG_HEIGHT_RATIO = 0.095 / 0.082  # height / diameter of an 11 oz mug
WALL_RATIO = 0.05  # wall thickness / diameter
BOTTOM_RATIO = 0.07  # bottom thickness / diameter
PRINT_MARGIN = 0.08  # share of the height left blank above and below the print
HANDLE_ANGLE_RAD = math.pi / 2  # the handle is on the right (+X) seen from the front
HANDLE_GAP_RAD = math.radians(50)  # around the handle, where no print goes
SEGMENTS = 96  # around the mug
HANDLE_STEPS = (32, 16)  # along the handle, around its cross-section


@dataclass(frozen=True)
class Material:
    name: str
    base_colour: tuple[float, float, float]  # linear RGB, multiplied with the texture
    roughness: float
    textured: bool  # the design is the base-colour texture


@dataclass(frozen=True)
class Part:
    """One material's triangles: float32 positions, unit normals, UVs (textured only)."""

    name: str
    material: Material
    positions: np.ndarray  # (n, 3) float32, metres
    normals: np.ndarray  # (n, 3) float32
    uvs: np.ndarray | None  # (n, 2) float32, origin top left
    indices: np.ndarray  # (m, 3) uint32


@dataclass(frozen=True)
class Model:
    product: str
    parts: tuple[Part, ...]
    size_m: tuple[float, float, float]  # width, height, depth of the bounding box

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The lowest and highest corner of the bounding box, float32."""
        points = np.concatenate([part.positions for part in self.parts])
        return points.min(axis=0), points.max(axis=0)


PRINT = Material("print", (1.0, 1.0, 1.0), 0.45, textured=True)
PAPER = Material("paper", (0.85, 0.85, 0.82), 0.9, textured=False)
CERAMIC = Material("ceramic", (0.9, 0.9, 0.9), 0.25, textured=False)


def poster(aspect: float, width_m: float, depth_m: float = POSTER_DEPTH_M) -> Model:
    """A card `width_m` x `width_m / aspect` x `depth_m`, the design on its front."""
    _check_positive(aspect=aspect, width_m=width_m, depth_m=depth_m)
    w, h, d = width_m / 2, width_m / aspect / 2, depth_m
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], dtype=np.float64)

    def face(
        origin: list[float], du: list[float], dv: list[float], normal: list[float]
    ) -> _Surface:
        steps = np.linspace(0.0, 1.0, 2)
        grid = np.asarray(origin) + steps[None, :, None] * du + steps[:, None, None] * dv
        return _patch(grid, np.broadcast_to(normal, grid.shape))

    front = face([-w, h, d], [2 * w, 0, 0], [0, -2 * h, 0], [0, 0, 1])
    front_uv = np.stack(np.meshgrid([0.0, 1.0], [0.0, 1.0]), axis=-1).reshape(-1, 2)
    back = face([w, h, 0], [-2 * w, 0, 0], [0, -2 * h, 0], [0, 0, -1])
    edges = []
    for i in range(4):  # the corners go round counter-clockwise: (dy, -dx) points out
        dx, dy = corners[(i + 1) % 4] - corners[i]
        edges.append(face([*corners[i], 0], [0, 0, d], [dx, dy, 0], [dy, -dx, 0]))
    parts = (
        _part("front", PRINT, [front], [front_uv]),
        _part("back", PAPER, [back, *edges]),
    )
    return Model("poster", parts, _size(parts))


def mug(aspect: float, diameter_m: float = MUG_DIAMETER_M, *, handle: bool = True) -> Model:
    """An 11 oz mug scaled to `diameter_m`, the design wrapped around the front of its side."""
    _check_positive(aspect=aspect, diameter_m=diameter_m)
    r, height = diameter_m / 2, diameter_m * MUG_HEIGHT_RATIO
    inner_r, bottom = r - diameter_m * WALL_RATIO, diameter_m * BOTTOM_RATIO
    band_low, band_high = height * PRINT_MARGIN, height * (1 - PRINT_MARGIN)
    max_arc = 2 * math.pi - (HANDLE_GAP_RAD if handle else 0.0)
    arc = min(max_arc, (band_high - band_low) * aspect / r)  # the print's angle
    print_h = arc * r / aspect
    y0 = (band_low + band_high - print_h) / 2
    start = _print_start(arc, handle)
    angles = _angles(start, start + arc)
    printed = _cylinder(r, angles, np.array([y0 + print_h, y0]))
    print_uv = np.stack(np.meshgrid((angles - start) / arc, [0.0, 1.0]), axis=-1)
    # one set of angles all round, the print's among them: every surface meets its
    # neighbours vertex to vertex, so the mug is closed, without cracks
    rest = _angles(start + arc, start + 2 * math.pi) if arc < 2 * math.pi - 1e-9 else None
    around = angles if rest is None else np.concatenate([angles, rest[1:]])
    plain = [
        _cylinder(r, around, np.array([y0, 0.0])),
        _cylinder(r, around, np.array([height, y0 + print_h])),
        _cylinder(inner_r, around, np.array([height, bottom]), inward=True),
        _disc(around, inner_r, r, height, up=True),
        _disc(around, 0.0, inner_r, bottom, up=True),
        _disc(around, 0.0, r, 0.0, up=False),
    ]
    if rest is not None:  # the rest of the band, behind the print
        plain.append(_cylinder(r, rest, np.array([y0 + print_h, y0])))
    if handle:
        plain.append(_handle(r, inner_r, height))
    parts = (
        _part("print", PRINT, [printed], [print_uv.reshape(-1, 2)]),
        _part("body", CERAMIC, plain),
    )
    return Model("mug", parts, _size(parts))


def _print_start(arc: float, handle: bool) -> float:
    """The angle where the print starts: centred on the front when it clears the handle's gap,
    else ending at the gap and running on around the back."""
    clear = HANDLE_ANGLE_RAD - HANDLE_GAP_RAD / 2
    return -arc / 2 if not handle or arc / 2 <= clear else clear - arc


# Surfaces


@dataclass(frozen=True)
class _Surface:
    positions: np.ndarray  # (n, 3) float64
    normals: np.ndarray  # (n, 3) float64, unit
    triangles: np.ndarray  # (m, 3) int64


def _patch(points: np.ndarray, normals: np.ndarray) -> _Surface:
    """Two triangles per cell of a (rows, columns, 3) grid, wound to face their normals."""
    rows, columns = points.shape[:2]
    index = np.arange(rows * columns).reshape(rows, columns)
    a, b = index[:-1, :-1].ravel(), index[1:, :-1].ravel()
    c, d = index[1:, 1:].ravel(), index[:-1, 1:].ravel()
    triangles = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    flat = points.reshape(-1, 3).astype(np.float64)
    unit = normals.reshape(-1, 3).astype(np.float64)
    unit = unit / np.linalg.norm(unit, axis=1, keepdims=True)
    p0, p1, p2 = (flat[triangles[:, k]] for k in range(3))
    face = np.cross(p1 - p0, p2 - p0)
    area = np.linalg.norm(face, axis=1)
    triangles = triangles[area > 1e-14]
    face = face[area > 1e-14]
    facing = np.einsum("ij,ij->i", face, unit[triangles].sum(axis=1))
    triangles[facing < 0] = triangles[facing < 0][:, ::-1]
    return _Surface(flat, unit, triangles)


def _angles(start: float, stop: float) -> np.ndarray:
    steps = max(2, math.ceil((stop - start) / (2 * math.pi) * SEGMENTS))
    return np.linspace(start, stop, steps + 1)


def _cylinder(
    radius: float, angles: np.ndarray, ys: np.ndarray, *, inward: bool = False
) -> _Surface:
    """The side at `radius`; angle 0 faces +Z, angles grow towards +X; rows from `ys`."""
    sin, cos = np.sin(angles), np.cos(angles)
    rows = len(ys)
    points = np.stack(
        [
            np.tile(radius * sin, (rows, 1)),
            np.repeat(ys[:, None], len(angles), 1),
            np.tile(radius * cos, (rows, 1)),
        ],
        axis=-1,
    )
    out = np.stack([sin, np.zeros_like(sin), cos], axis=-1)
    normals = np.broadcast_to(-out if inward else out, points.shape)
    return _patch(points, normals)


def _disc(angles: np.ndarray, r0: float, r1: float, y: float, *, up: bool) -> _Surface:
    radii = np.array([r0, r1])
    points = np.stack(
        [
            radii[:, None] * np.sin(angles),
            np.full((2, len(angles)), y),
            radii[:, None] * np.cos(angles),
        ],
        axis=-1,
    )
    normal = np.array([0.0, 1.0 if up else -1.0, 0.0])
    return _patch(points, np.broadcast_to(normal, points.shape))


def _handle(r: float, inner_r: float, height: float) -> _Surface:
    """A tube along a half ellipse on the right (+X), its ends inside the wall."""
    along, around = HANDLE_STEPS
    s = np.linspace(0.0, math.pi, along + 1)
    reach, half_span, centre_y = 0.42 * r, 0.3 * height, 0.55 * height
    attach = (r + inner_r) / 2  # the ends sit between the outer and the inner wall
    zeros = np.zeros_like(s)
    path = np.stack([attach + reach * np.sin(s), centre_y + half_span * np.cos(s), zeros], 1)
    tangent = np.stack([reach * np.cos(s), -half_span * np.sin(s), zeros], 1)
    tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
    side = np.array([0.0, 0.0, 1.0])
    normal = np.cross(tangent, side)  # in the XY plane, away from the ellipse's centre
    normal *= np.sign(np.einsum("ij,ij->i", normal, path - [attach, centre_y, 0]))[:, None]
    phi = np.linspace(0.0, 2 * math.pi, around + 1)
    half_w, half_t = 0.09 * r, 0.11 * r  # across (z) and in the handle's plane
    cos, sin = np.cos(phi)[None, :, None], np.sin(phi)[None, :, None]
    points = path[:, None] + half_w * cos * side + half_t * sin * normal[:, None]
    normals = cos / half_w * side + sin / half_t * normal[:, None]
    return _patch(points, normals)


def _part(
    name: str, material: Material, surfaces: list[_Surface], uvs: list[np.ndarray] | None = None
) -> Part:
    offsets = np.cumsum([0] + [len(s.positions) for s in surfaces[:-1]])
    return Part(
        name=name,
        material=material,
        positions=np.concatenate([s.positions for s in surfaces]).astype(np.float32),
        normals=np.concatenate([s.normals for s in surfaces]).astype(np.float32),
        uvs=None if uvs is None else np.concatenate(uvs).astype(np.float32),
        indices=np.concatenate(
            [s.triangles + o for s, o in zip(surfaces, offsets, strict=True)]
        ).astype(np.uint32),
    )


def _size(parts: tuple[Part, ...]) -> tuple[float, float, float]:
    points = np.concatenate([part.positions for part in parts])
    width, height, depth = (points.max(axis=0) - points.min(axis=0)).tolist()
    return width, height, depth


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (math.isfinite(value) and value > 0):
            raise ValueError(f"{name} must be a positive number, got {value!r}")
