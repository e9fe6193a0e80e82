"""The AR geometry and files, without Redis or Postgres: meshes, GLB, USDZ, the still image.

GLB files are judged by Khronos' glTF-Validator and USDZ files by every validator usd-core
registers; each judge is first shown a broken file, to prove it can fail.
"""

from __future__ import annotations

import json
import math
import struct
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import pyvips

from ar_tools import (
    QUADRANTS,
    gltf_reports,
    photo_design,
    quadrant_design,
    registered_usd_validators,
    usd_problems,
)
from conftest import TESTDATA
from mediaworker.errors import BadInputError, NotConfiguredError
from mediaworker.processing import geometry, gltf, usdz
from mediaworker.processing.ar_export import ArExport, ArSpec, make_ar_export
from mediaworker.processing.decode import ImageLimits

LIMITS = ImageLimits(max_input_bytes=50 * 2**20, max_pixels=50_000_000)
ORIENTED = (
    TESTDATA / "images/exif_orientation_6_portrait.jpg"
)  # 1800x1200 stored, upright 1200x1800
DESIGNS = [  # every kind of image the pipeline reads, extreme shapes included
    "exif_orientation_6_portrait.jpg",
    "cmyk.jpg",
    "grayscale.jpg",
    "rgba_alpha.png",
    "rgb16.png",
    "phone_portrait.heic",
    "animated.gif",
    "tiny_1x1.png",
    "wide_940x2.png",
]


def export(path: Path, product: str, **spec: object) -> ArExport:
    width_m = 0.5 if product == "poster" else geometry.MUG_DIAMETER_M
    return make_ar_export(str(path), ArSpec(product, width_m, **spec), LIMITS)  # type: ignore[arg-type]


def glb_document(data: bytes) -> tuple[dict[str, object], bytes]:
    """The JSON and the binary chunk of a GLB (to look inside; validity is Khronos' call)."""
    (json_length,) = struct.unpack_from("<I", data, 12)
    document = json.loads(data[20 : 20 + json_length])
    return document, data[20 + json_length + 8 :]


def glb_texture(data: bytes) -> bytes:
    document, blob = glb_document(data)
    view = document["bufferViews"][document["images"][0]["bufferView"]]  # type: ignore[index]
    return blob[view["byteOffset"] : view["byteOffset"] + view["byteLength"]]


# Geometry


@pytest.mark.parametrize("product", ["poster", "mug"])
def test_every_triangle_faces_the_way_its_normals_point(product: str) -> None:
    model = geometry.poster(1.5, 0.6) if product == "poster" else geometry.mug(1.2)
    for part in model.parts:
        p = part.positions[part.indices].astype(np.float64)
        face = np.cross(p[:, 1] - p[:, 0], p[:, 2] - p[:, 0])
        assert (np.linalg.norm(face, axis=1) > 0).all(), f"{part.name}: degenerate triangle"
        facing = np.einsum("ij,ij->i", face, part.normals[part.indices].sum(axis=1))
        assert (facing > 0).all(), f"{part.name}: triangles wound against their normals"
        assert np.allclose(np.linalg.norm(part.normals, axis=1), 1, atol=1e-5)


def is_closed(model: geometry.Model) -> bool:
    """Every edge, once coincident points are welded, is shared by exactly two triangles."""
    points = np.concatenate([p.positions for p in model.parts]).round(7)
    offsets = np.cumsum([0] + [len(p.positions) for p in model.parts[:-1]])
    triangles = np.concatenate([p.indices + o for p, o in zip(model.parts, offsets, strict=True)])
    _, welded = np.unique(points, axis=0, return_inverse=True)
    corners = welded.ravel()[triangles]
    edges = np.sort(np.concatenate([corners[:, [0, 1]], corners[:, [1, 2]], corners[:, [2, 0]]]), 1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return bool((counts == 2).all())


def test_poster_is_a_closed_card_at_its_real_width_and_the_designs_aspect() -> None:
    model = geometry.poster(aspect=2 / 3, width_m=0.6)
    assert model.size_m == pytest.approx((0.6, 0.9, geometry.POSTER_DEPTH_M), rel=1e-6)
    front = next(p for p in model.parts if p.material.textured)
    assert front.uvs is not None
    assert (front.normals[:, 2] > 0.99).all()  # the design faces +Z
    # top left of the design (u, v = 0, 0) is the front's top left corner
    corner = front.positions[np.argmin(front.uvs.sum(axis=1))]
    assert corner[0] < 0 and corner[1] > 0
    assert is_closed(model)


def test_mug_is_an_11_oz_mug_with_the_handle_on_the_right() -> None:
    with_handle, without = geometry.mug(1.0), geometry.mug(1.0, handle=False)
    # a 96-sided cylinder: across its corners 82 mm, across its sides 0.05 % less
    assert without.size_m == pytest.approx((0.082, 0.095, 0.082), rel=1e-3)
    width, height, depth = with_handle.size_m
    assert 0.095 < width < 0.12 and height == pytest.approx(0.095)
    assert depth == pytest.approx(0.082, rel=1e-3)
    low, high = with_handle.bounds()
    assert high[0] > -low[0] + 0.01  # the handle sticks out on +X
    for aspect in (0.3, 1.0, 2.5, 9.0):  # centred, wrapped round, all the way round
        assert is_closed(geometry.mug(aspect, handle=False)), f"cracks at aspect {aspect}"
    scaled = geometry.mug(1.0, diameter_m=0.1, handle=False)
    assert scaled.size_m[1] == pytest.approx(0.1 * 0.095 / 0.082, rel=1e-5)


@pytest.mark.parametrize(
    ("aspect", "handle"), [(0.5, True), (2.0, True), (8.0, True), (8.0, False)]
)
def test_mug_print_keeps_the_designs_aspect_and_u_follows_the_angle(
    aspect: float, handle: bool
) -> None:
    model = geometry.mug(aspect, handle=handle)
    printed = next(p for p in model.parts if p.material.textured)
    assert printed.uvs is not None
    x, y, z = printed.positions.astype(np.float64).T
    radius = geometry.MUG_DIAMETER_M / 2
    assert np.allclose(np.hypot(x, z), radius, rtol=1e-6)
    angle = np.unwrap(np.arctan2(x, z)[np.argsort(printed.uvs[:, 0], kind="stable")])
    u = np.sort(printed.uvs[:, 0])
    span = angle.max() - angle.min()
    # u grows evenly with the angle: the same arc for every texel, no stretching
    assert np.allclose(angle - angle.min(), u * span, atol=1e-5)
    print_height = y.max() - y.min()
    assert span * radius / print_height == pytest.approx(aspect, rel=1e-4)
    assert print_height <= 0.095 * (1 - 2 * geometry.PRINT_MARGIN) + 1e-9
    # no triangle bridges the print's left and right edges
    u_of = printed.uvs[printed.indices][:, :, 0]
    assert (u_of.max(axis=1) - u_of.min(axis=1)).max() < 2 / geometry.SEGMENTS * (
        2 * math.pi / span
    )
    if handle:  # the print stays out of the gap around the handle (+X, angle pi/2)
        gap = geometry.HANDLE_GAP_RAD / 2
        assert not (np.abs(np.arctan2(x, z) - math.pi / 2) < gap - 1e-6).any()
    else:
        assert span == pytest.approx(min(2 * math.pi, 0.095 * 0.84 * aspect / radius), rel=1e-6)


def test_a_design_narrow_enough_is_centred_on_the_front() -> None:
    printed = next(p for p in geometry.mug(1.0).parts if p.material.textured)
    x = printed.positions[:, 0]
    assert x.min() == pytest.approx(-x.max(), abs=1e-6)
    assert (printed.positions[:, 2] > 0).all()


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
def test_geometry_refuses_sizes_that_are_not_positive(bad: float) -> None:
    with pytest.raises(ValueError, match="positive"):
        geometry.poster(1.0, bad)
    with pytest.raises(ValueError, match="positive"):
        geometry.mug(bad)


# The judges can fail


def test_gltf_validator_reports_errors_in_a_broken_glb(tmp_path: Path) -> None:
    data = bytearray(gltf.to_glb(geometry.poster(1.0, 0.5), b"\xff\xd8not a jpeg\xff\xd9"))
    broken = tmp_path / "broken.glb"
    broken.write_bytes(bytes(data[:-40]))  # the binary chunk cut short
    issues = gltf_reports([broken])[str(broken)]
    assert issues["numErrors"] > 0


def test_usd_validators_report_a_package_that_breaks_the_rules(tmp_path: Path) -> None:
    good = tmp_path / "poster.usdz"
    good.write_bytes(usdz.to_usdz(geometry.poster(1.0, 0.5), quadrant_jpeg(tmp_path)))
    bad = tmp_path / "bad.usdz"
    bad.write_bytes(good.read_bytes())
    with zipfile.ZipFile(bad, "a", compression=zipfile.ZIP_DEFLATED) as package:
        package.writestr("notes.txt", "compressed and not a USD file type")
    names = {validator for validator, _, _ in usd_problems(bad)}
    assert {
        "usdUtilsValidators:FileExtensionValidator",
        "usdUtilsValidators:UsdzPackageValidator",
    } <= names


def quadrant_jpeg(tmp_path: Path) -> bytes:
    path = quadrant_design(tmp_path / "design.png", 64, 64)
    return bytes(pyvips.Image.new_from_file(str(path)).jpegsave_buffer(Q=90))


def test_without_usd_core_the_usdz_is_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pxr", None)  # as if usd-core were not installed
    with pytest.raises(NotConfiguredError, match=r"mediaworker\[ar\]"):
        usdz.to_usdz(geometry.poster(1.0, 0.5), b"")


# The files


@pytest.mark.parametrize("product", ["poster", "mug"])
def test_every_glb_passes_gltf_validator_with_no_issue_at_all(tmp_path: Path, product: str) -> None:
    paths = []
    for name in DESIGNS:
        path = tmp_path / f"{name}.glb"
        path.write_bytes(export(TESTDATA / "images" / name, product, still_px=64).glb)
        paths.append(path)
    for path, issues in gltf_reports(paths).items():
        assert issues["numErrors"] == 0, (path, issues["messages"])
        assert issues["numWarnings"] == 0, (path, issues["messages"])


@pytest.mark.parametrize(("product", "handle"), [("poster", True), ("mug", True), ("mug", False)])
def test_every_usdz_passes_every_registered_usd_validator(
    tmp_path: Path, product: str, handle: bool
) -> None:
    must_run = {
        "usdUtilsValidators:UsdzPackageValidator",
        "usdUtilsValidators:RootPackageValidator",
        "usdUtilsValidators:FileExtensionValidator",
        "usdShadeValidators:MaterialBindingApiAppliedValidator",
        "usdGeomValidators:StageMetadataChecker",
    }
    assert must_run <= registered_usd_validators()
    path = tmp_path / f"{product}.usdz"
    path.write_bytes(export(ORIENTED, product, handle=handle).usdz)
    assert usd_problems(path) == []
    with zipfile.ZipFile(path) as package:
        assert package.namelist()[0].endswith(".usdc")
        assert [name for name in package.namelist() if name.endswith(".jpg")] == ["0/texture.jpg"]


def test_the_texture_is_encoded_once_upright_and_at_most_2048_px(tmp_path: Path) -> None:
    result = export(ORIENTED, "poster")
    assert (result.texture_width, result.texture_height) == (1200, 1800)
    in_glb = glb_texture(result.glb)
    with zipfile.ZipFile(_write(tmp_path / "p.usdz", result.usdz)) as package:
        assert package.read("0/texture.jpg") == in_glb
    big = photo_design(tmp_path / "big.jpg", 4096)
    result = export(big, "mug")
    assert max(result.texture_width, result.texture_height) == 2048
    texture = pyvips.Image.new_from_buffer(glb_texture(result.glb), "")
    assert (texture.width, texture.height) == (2048, 2048)


def test_a_1024_px_design_gives_a_glb_under_1_mb(tmp_path: Path) -> None:
    design = photo_design(tmp_path / "design.jpg", 1024)
    for product in ("poster", "mug"):
        assert len(export(design, product).glb) < 1_000_000


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# The still


def colour_near(pixels: np.ndarray, colour: tuple[int, int, int]) -> np.ndarray:
    """Pixels whose hue matches `colour` (lighting scales brightness, not the mix)."""
    rgb = pixels.astype(np.float64) + 1
    target = np.array(colour, np.float64) + 1
    mix = rgb / rgb.sum(axis=-1, keepdims=True)
    return np.abs(mix - target / target.sum()).sum(axis=-1) < 0.08


def test_the_poster_still_shows_the_design_the_right_way_up_and_round(tmp_path: Path) -> None:
    result = export(quadrant_design(tmp_path / "q.png", 400, 600), "poster", still_px=256)
    still = pyvips.Image.new_from_buffer(result.still_png, "")
    assert (still.width, still.height, still.bands) == (256, 256, 3)
    pixels = still.numpy()
    centres = {}
    for name, colour in QUADRANTS.items():
        rows, columns = np.nonzero(colour_near(pixels, colour))
        assert len(rows) > 500, f"{name} barely visible"
        centres[name] = (rows.mean(), columns.mean())
    assert centres["top_left"][0] < centres["bottom_left"][0]
    assert centres["top_left"][1] < centres["top_right"][1]
    assert centres["bottom_left"][1] < centres["bottom_right"][1]


def object_runs(pixels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of model pixels (not the flat background of the corner) across the middle row."""
    mask = (pixels != pixels[0, 0]).any(axis=-1)
    rows = np.flatnonzero(mask.any(axis=1))
    line = mask[(rows.min() + rows.max()) // 2].astype(np.int8)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], line, [0]])))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def test_the_mug_still_shows_the_print_and_the_handle(tmp_path: Path) -> None:
    design = quadrant_design(tmp_path / "q.png", 600, 400)
    with_handle = pyvips.Image.new_from_buffer(export(design, "mug", still_px=256).still_png, "")
    without = export(design, "mug", handle=False, still_px=256).still_png
    pixels = with_handle.numpy()
    for name, colour in QUADRANTS.items():
        assert colour_near(pixels, colour).sum() > 100, f"{name} of the print not visible"
    # across the middle: the body, then the hole of the handle, then the handle, on the right
    assert len(object_runs(pixels)) == 2
    assert len(object_runs(pyvips.Image.new_from_buffer(without, "").numpy())) == 1


# Bad input


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"plain text, not an image at all\n" * 20, "not an image"),
    ],
)
def test_what_is_not_an_image_is_bad_input(tmp_path: Path, content: bytes, message: str) -> None:
    path = _write(tmp_path / "design", content)
    with pytest.raises(BadInputError, match=message):
        export(path, "poster")


def test_a_truncated_image_is_bad_input(tmp_path: Path) -> None:
    whole = ORIENTED.read_bytes()
    path = _write(tmp_path / "cut.jpg", whole[: len(whole) // 3])
    with pytest.raises(BadInputError, match="truncated"):
        export(path, "mug")


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    limits = ImageLimits(max_input_bytes=50 * 2**20, max_pixels=1_000_000)
    with pytest.raises(BadInputError, match="MP limit"):
        make_ar_export(str(ORIENTED), ArSpec("poster", 0.5), limits)


def test_a_file_over_the_size_limit_is_refused_before_reading_it() -> None:
    limits = ImageLimits(max_input_bytes=10_000, max_pixels=50_000_000)
    with pytest.raises(BadInputError, match=r"over the .* limit"):
        make_ar_export(str(ORIENTED), ArSpec("mug", 0.082), limits)
