"""The image pipeline: sizes, orientation, colour, limits, broken files, metadata, encodings.

Images are generated with pyvips at test time; the real-world corpus in ../shared/testdata (or
$MEDIAWORKER_TESTDATA) is used when present. Outputs are compared by dimensions, colour space
and similarity scores, never by bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import blurhash as reference_blurhash  # type: ignore[import-untyped]
import numpy as np
import pytest
import pyvips

from mediaworker.errors import MAX_MESSAGE_CHARS, BadInputError
from mediaworker.processing import blurhash
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.image import EncodeSpec, SizeSpec, Thumbnails, make_thumbnails, to_srgb

SIZES = (
    SizeSpec("THUMBNAIL", 150, 150, crop=True),
    SizeSpec("MEDIUM", 800, 600, crop=False),
    SizeSpec("LARGE", 1920, 1080, crop=False),
)
JPEG = EncodeSpec("jpeg", 82)
LIMITS = ImageLimits(max_input_bytes=100 * 1024 * 1024, max_pixels=100_000_000)

TESTDATA = Path(
    os.environ.get("MEDIAWORKER_TESTDATA", Path(__file__).resolve().parents[2] / "shared/testdata")
)


def corpus(kind: str) -> list[dict[str, Any]]:
    manifest = TESTDATA / "manifest.json"
    if not manifest.is_file():
        return []
    return [e for e in json.loads(manifest.read_text()) if e["kind"] == kind]


needs_corpus = pytest.mark.skipif(
    not (TESTDATA / "manifest.json").is_file(), reason="shared/testdata is not present"
)


# Helpers


def photo(width: int, height: int, seed: int = 1) -> pyvips.Image:
    """Photo-like content: colour blobs, a diagonal gradient and grain; no two corners alike."""
    small_w, small_h = max(width // 16, 2), max(height // 16, 2)
    blobs = pyvips.Image.gaussnoise(small_w, small_h, sigma=45, mean=128, seed=seed).bandjoin(
        [
            pyvips.Image.gaussnoise(small_w, small_h, sigma=45, mean=128, seed=seed + 1),
            pyvips.Image.gaussnoise(small_w, small_h, sigma=45, mean=128, seed=seed + 2),
        ]
    )
    blobs = blobs.resize(width / small_w, vscale=height / small_h, kernel="linear")
    blobs = blobs.gravity("north-west", width, height, extend="copy")
    xy = pyvips.Image.xyz(width, height)
    gradient = xy[0] * (90 / width) - xy[1] * (90 / height)
    grain = pyvips.Image.gaussnoise(width, height, sigma=4, seed=seed + 3)
    return (blobs + gradient + grain).cast("uchar").copy(interpretation="srgb")


def save(image: pyvips.Image, path: Path, **options: Any) -> str:
    image.write_to_file(str(path), **options)
    return str(path)


def run(
    path: str | Path,
    *,
    sizes: tuple[SizeSpec, ...] = SIZES,
    encode: EncodeSpec = JPEG,
    limits: ImageLimits = LIMITS,
) -> Thumbnails:
    return make_thumbnails(str(path), sizes, encode, limits)


def decoded(data: bytes) -> pyvips.Image:
    return pyvips.Image.new_from_buffer(data, "").copy_memory()


def by_name(result: Thumbnails) -> dict[str, Any]:
    return {r.name: r for r in result.renditions}


def similarity(a: pyvips.Image, b: pyvips.Image) -> float:
    """1.0 for the same picture, lower the more they differ; b is resized to a's size first."""
    a = a.flatten(background=255) if a.hasalpha() else a
    b = b.flatten(background=255) if b.hasalpha() else b
    b = b.resize(a.width / b.width, vscale=a.height / b.height)
    b = b.gravity("north-west", a.width, a.height, extend="copy")
    diff = (a.cast("float") - b.cast("float")).abs().avg()
    return 1.0 - float(diff) / 255


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Sizes


@pytest.mark.parametrize(
    ("source", "thumbnail", "medium", "large"),
    [
        ((4000, 3000), (150, 150), (800, 600), (1440, 1080)),
        ((3000, 4000), (150, 150), (450, 600), (810, 1080)),
        ((2000, 1000), (150, 150), (800, 400), (1920, 960)),
        ((6000, 1000), (150, 150), (800, 133), (1920, 320)),
        ((500, 300), (150, 150), (500, 300), (500, 300)),  # smaller than MEDIUM: not enlarged
        ((100, 400), (100, 150), (100, 400), (100, 400)),  # narrower than the thumbnail box
        ((940, 2), (150, 2), (800, 2), (940, 2)),  # 2 pixels high: never 0
        ((1, 1), (1, 1), (1, 1), (1, 1)),
    ],
)
def test_each_size_has_the_expected_dimensions(
    tmp_path: Path,
    source: tuple[int, int],
    thumbnail: tuple[int, int],
    medium: tuple[int, int],
    large: tuple[int, int],
) -> None:
    path = save(photo(*source), tmp_path / "in.jpg", Q=90)

    result = run(path)

    assert [r.name for r in result.renditions] == ["THUMBNAIL", "MEDIUM", "LARGE"]
    assert (result.source_width, result.source_height) == source
    expected = {"THUMBNAIL": thumbnail, "MEDIUM": medium, "LARGE": large}
    for rendition in result.renditions:
        image = decoded(rendition.data)
        assert (rendition.width, rendition.height) == expected[rendition.name]
        assert (image.width, image.height) == expected[rendition.name]


@pytest.mark.parametrize("suffix", [".webp", ".png", ".tif"])
def test_dimensions_do_not_depend_on_the_input_format(tmp_path: Path, suffix: str) -> None:
    path = save(photo(4000, 3000), tmp_path / f"in{suffix}")

    result = run(path)

    assert [(r.width, r.height) for r in result.renditions] == [
        (150, 150),
        (800, 600),
        (1440, 1080),
    ]


@pytest.mark.parametrize("source", [(150, 150), (151, 4000), (4000, 151), (333, 777)])
def test_thumbnail_is_exactly_the_box_when_the_source_covers_it(
    tmp_path: Path, source: tuple[int, int]
) -> None:
    path = save(photo(*source), tmp_path / "in.png")

    thumbnail = by_name(run(path))["THUMBNAIL"]

    assert (thumbnail.width, thumbnail.height) == (150, 150)


def test_sizes_come_back_in_the_order_they_were_asked_for(tmp_path: Path) -> None:
    path = save(photo(1200, 900), tmp_path / "in.jpg")
    sizes = (SIZES[2], SIZES[0], SIZES[1])

    result = run(path, sizes=sizes)

    assert [r.name for r in result.renditions] == ["LARGE", "THUMBNAIL", "MEDIUM"]
    assert [(r.width, r.height) for r in result.renditions] == [(1200, 900), (150, 150), (800, 600)]


def test_the_thumbnail_crop_keeps_the_interesting_part(tmp_path: Path) -> None:
    # A flat grey panorama with detail only at its right end: a centre crop would be flat.
    flat = (pyvips.Image.black(800, 200, bands=3) + 128).cast("uchar")
    detail = photo(200, 200, seed=7)
    path = save(flat.insert(detail, 600, 0).copy(interpretation="srgb"), tmp_path / "in.png")

    thumbnail = decoded(by_name(run(path))["THUMBNAIL"].data)

    assert float(thumbnail.deviate()) > 10, "the crop missed the detailed part of the image"


def test_medium_and_large_keep_the_whole_picture(tmp_path: Path) -> None:
    source = photo(2400, 1600, seed=3)
    path = save(source, tmp_path / "in.jpg", Q=95)

    result = by_name(run(path))

    assert similarity(decoded(result["LARGE"].data), source) > 0.97
    assert similarity(decoded(result["MEDIUM"].data), source) > 0.97


# Orientation


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_output(tmp_path: Path, orientation: int) -> None:
    stored = photo(1200, 800, seed=orientation).copy()
    stored.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    path = save(stored, tmp_path / "in.jpg", Q=95)
    upright = pyvips.Image.new_from_file(path).autorot()

    result = run(path)
    large = decoded(by_name(result)["LARGE"].data)

    swapped = orientation >= 5
    assert (result.source_width, result.source_height) == ((800, 1200) if swapped else (1200, 800))
    assert (large.width, large.height) == ((720, 1080) if swapped else (1200, 800))
    assert similarity(large, upright) > 0.97
    if orientation != 1:
        as_stored = pyvips.Image.new_from_file(path)
        assert similarity(large, as_stored) < similarity(large, upright) - 0.03


@pytest.mark.parametrize("orientation", [6, 8])
def test_a_rotated_photo_shrunk_on_load_comes_out_upright(tmp_path: Path, orientation: int) -> None:
    stored = photo(4400, 2200, seed=orientation).copy()
    stored.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    path = save(stored, tmp_path / "in.jpg", Q=95)

    result = by_name(run(path))

    assert [(r.width, r.height) for r in result.values()] == [(150, 150), (300, 600), (540, 1080)]
    upright = pyvips.Image.new_from_file(path).autorot()
    assert similarity(decoded(result["LARGE"].data), upright) > 0.97


@needs_corpus
@pytest.mark.parametrize(
    "entry",
    [e for e in corpus("image") if e["expect"].get("orientation", 1) != 1],
    ids=lambda e: Path(e["path"]).name,
)
def test_corpus_orientation_content_comes_out_upright(entry: dict[str, Any]) -> None:
    path = TESTDATA / entry["path"]
    upright = pyvips.Image.new_from_file(str(path)).autorot()
    as_stored = pyvips.Image.new_from_file(str(path))

    large = decoded(by_name(run(path))["LARGE"].data)

    assert similarity(large, upright) > 0.95
    assert similarity(large, upright) > similarity(large, as_stored) + 0.03


# The corpus


def _corpus_id(entry: dict[str, Any]) -> str:
    return Path(entry["path"]).name


@needs_corpus
@pytest.mark.parametrize("entry", corpus("image"), ids=_corpus_id)
def test_corpus_images_come_out_upright_srgb_in_every_size(entry: dict[str, Any]) -> None:
    expect = entry["expect"]
    display = (
        expect.get("display_width", expect["width"]),
        expect.get("display_height", expect["height"]),
    )

    result = run(TESTDATA / entry["path"])

    assert (result.source_width, result.source_height) == display
    assert result.source_format == {"heic": "heif"}.get(expect["format"], expect["format"])
    for rendition in result.renditions:
        image = decoded(rendition.data)
        assert (image.width, image.height) == (rendition.width, rendition.height)
        assert image.format == "uchar"
        if expect["interpretation"] == "b-w":
            assert (image.bands, image.interpretation) == (1, "b-w")
        else:
            assert (image.bands, image.interpretation) == (3, "srgb")
        if rendition.name != "THUMBNAIL":  # uncropped: the display aspect ratio
            assert abs(image.height - image.width * display[1] / display[0]) <= 1


@needs_corpus
@pytest.mark.parametrize("name", ["cmyk.jpg", "icc_display_p3.png"])
def test_corpus_colour_managed_images_match_a_reference_srgb_conversion(name: str) -> None:
    path = TESTDATA / "images" / name
    source = pyvips.Image.new_from_file(str(path))
    reference = source.icc_transform("srgb", embedded=True, input_profile="cmyk")

    large = decoded(by_name(run(path, encode=EncodeSpec("jpeg", 95)))["LARGE"].data)

    assert (large.bands, large.interpretation) == (3, "srgb")
    unmanaged = source[:3] if source.interpretation != "cmyk" else 255 - source[:3]
    assert similarity(large, reference) > 0.98
    assert similarity(large, reference) > similarity(large, unmanaged)


@needs_corpus
@pytest.mark.parametrize(("name", "frame_size"), [("animated.gif", 80), ("animated.webp", 245)])
def test_corpus_animations_give_their_first_frame(name: str, frame_size: int) -> None:
    path = TESTDATA / "images" / name
    first_frame = pyvips.Image.new_from_file(str(path), n=1)

    large = by_name(run(path, encode=EncodeSpec("webp", 90)))["LARGE"]

    every_page = pyvips.Image.new_from_buffer(large.data, "", n=-1)  # pages stacked vertically
    assert (every_page.width, every_page.height) == (frame_size, frame_size)
    assert similarity(decoded(large.data), first_frame) > 0.95


@needs_corpus
def test_corpus_heic_photo_decodes_through_pi_heif() -> None:
    result = run(TESTDATA / "images" / "phone_portrait.heic")

    assert (result.source_format, result.source_width, result.source_height) == (
        "heif",
        1080,
        1920,
    )
    large = decoded(by_name(result)["LARGE"].data)
    assert (large.width, large.height) == (608, 1080)
    assert float(large.deviate()) > 5, "the decoded picture is blank"


@needs_corpus
def test_a_truncated_heic_is_bad_input(tmp_path: Path) -> None:
    whole = (TESTDATA / "images" / "phone_portrait.heic").read_bytes()
    cut = tmp_path / "cut.heic"
    cut.write_bytes(whole[: len(whole) // 2])

    with pytest.raises(BadInputError, match="corrupt or truncated image"):
        run(cut)


# Colour


def test_rgb_with_an_embedded_display_p3_profile_is_converted_to_srgb(tmp_path: Path) -> None:
    red = pyvips.Image.black(64, 64).new_from_image([255, 0, 0]).cast("uchar")
    in_p3 = red.copy(interpretation="srgb").icc_transform("p3", input_profile="srgb")
    p3_pixel = in_p3.getpoint(5, 5)
    path = save(in_p3, tmp_path / "p3.png")

    large = decoded(by_name(run(path, encode=EncodeSpec("webp", 100)))["LARGE"].data)

    r, g, b = large.getpoint(32, 32)[:3]
    assert r > 245 and g < 15 and b < 15, f"got {r, g, b}, the P3 values were {p3_pixel}"


@pytest.mark.parametrize("embed_profile", [True, False], ids=["with-icc", "without-icc"])
def test_cmyk_jpeg_is_converted_to_srgb(tmp_path: Path, embed_profile: bool) -> None:
    source = photo(400, 300)
    cmyk = source.icc_transform("cmyk", input_profile="srgb")
    keep = "icc" if embed_profile else "none"
    path = save(cmyk, tmp_path / "cmyk.jpg", Q=95, keep=keep)
    assert pyvips.Image.new_from_file(path).interpretation == "cmyk"

    large = decoded(by_name(run(path))["LARGE"].data)

    assert (large.bands, large.interpretation, large.format) == (3, "srgb", "uchar")
    assert similarity(large, source) > 0.95


def test_greyscale_stays_one_band(tmp_path: Path) -> None:
    path = save(photo(300, 200).colourspace("b-w"), tmp_path / "grey.jpg")

    result = run(path)

    for rendition in result.renditions:
        image = decoded(rendition.data)
        assert (image.bands, image.interpretation) == (1, "b-w")


@pytest.mark.parametrize(
    ("interpretation", "bands", "value16", "value8"),
    [("rgb16", 3, 65535, 255), ("rgb16", 3, 32896, 128), ("grey16", 1, 65535, 255)],
)
def test_sixteen_bit_is_scaled_to_eight_bit_not_clipped(
    interpretation: str, bands: int, value16: int, value8: int
) -> None:
    image = (pyvips.Image.black(4, 4, bands=bands) + value16).cast("ushort")

    result = to_srgb(image.copy(interpretation=interpretation))

    assert result.format == "uchar"
    assert result.bands == bands
    assert result.avg() == pytest.approx(value8, abs=1)


def test_alpha_becomes_white_in_jpeg_and_stays_in_webp_and_avif(tmp_path: Path) -> None:
    colour = photo(400, 300)
    alpha = (pyvips.Image.black(400, 300) + 255).draw_rect(0, 0, 0, 200, 300, fill=True)
    path = save(colour.bandjoin(alpha.cast("uchar")), tmp_path / "alpha.png")

    as_jpeg = decoded(by_name(run(path))["LARGE"].data)
    as_webp = decoded(by_name(run(path, encode=EncodeSpec("webp", 80)))["LARGE"].data)
    as_avif = decoded(by_name(run(path, encode=EncodeSpec("avif", 60)))["LARGE"].data)

    assert as_jpeg.bands == 3
    assert min(as_jpeg.crop(10, 10, 150, 280).getpoint(0, 0)) > 245  # the transparent left half
    assert as_webp.hasalpha() and as_avif.hasalpha()
    assert as_webp[3].crop(10, 10, 150, 280).max() < 10
    assert as_webp[3].crop(250, 10, 140, 280).min() > 245


# Limits and broken files


BROKEN_MESSAGES = {
    "truncated.jpg": "corrupt or truncated image",
    "bad_crc_idat.png": "corrupt or truncated image",
    "zero_bytes.jpg": "empty file (0 bytes)",
    "text_not_image.jpg": "not an image",
    "corrupt_header.png": "corrupt or truncated image",
    "bomb_16384x16384.png": "image is 16384x16384 (268 MP), over the 100 MP limit",
    "corrupt.mkv": "not an image",
}


def _broken_files() -> list[str]:
    folder = TESTDATA / "broken"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@needs_corpus
@pytest.mark.parametrize("name", _broken_files())
def test_corpus_broken_files_are_bad_input_with_a_clear_message(name: str) -> None:
    path = TESTDATA / "broken" / name
    before = sha256(path)

    started = time.perf_counter()
    with pytest.raises(BadInputError) as raised:
        run(path)
    elapsed_s = time.perf_counter() - started

    message = raised.value.message
    assert BROKEN_MESSAGES.get(name, "") in message
    assert len(message) <= MAX_MESSAGE_CHARS and "\n" not in message
    assert str(path.parent) not in message, "the message leaks a server path"
    assert sha256(path) == before
    if name.startswith("bomb"):
        assert elapsed_s < 0.5, "the bomb must be refused from its header"


def test_pixel_limit_is_checked_from_the_header(tmp_path: Path) -> None:
    path = save(photo(400, 300), tmp_path / "in.jpg")

    with pytest.raises(BadInputError, match=r"image is 400x300 \(0.12 MP\), over the 0.12 MP"):
        run(path, limits=ImageLimits(LIMITS.max_input_bytes, max_pixels=400 * 300 - 1))
    assert run(path, limits=ImageLimits(LIMITS.max_input_bytes, max_pixels=400 * 300))


def test_pixel_limit_refuses_a_bomb_without_decoding_it(tmp_path: Path) -> None:
    # 20000x20000 of one colour: a few kB of PNG, 1.2 GB once decoded.
    path = save((pyvips.Image.black(20000, 20000) + 7).cast("uchar"), tmp_path / "bomb.png")

    started = time.perf_counter()
    with pytest.raises(BadInputError, match="400 MP"):
        run(path)
    assert time.perf_counter() - started < 0.5


def test_byte_limit_is_checked_before_reading(tmp_path: Path) -> None:
    path = save(photo(400, 300), tmp_path / "in.jpg")
    size = Path(path).stat().st_size

    with pytest.raises(BadInputError, match=rf"file is {size} bytes, over the {size - 1} bytes"):
        run(path, limits=ImageLimits(max_input_bytes=size - 1, max_pixels=LIMITS.max_pixels))
    assert run(path, limits=ImageLimits(max_input_bytes=size, max_pixels=LIMITS.max_pixels))


def test_a_truncated_generated_jpeg_is_refused_not_padded_grey(tmp_path: Path) -> None:
    whole = Path(save(photo(1600, 1200), tmp_path / "whole.jpg"))
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])

    with pytest.raises(BadInputError, match="corrupt or truncated image"):
        run(cut)


def test_a_format_outside_the_accepted_list_is_refused(tmp_path: Path) -> None:
    # libvips reads CSV matrices as images; this worker must not.
    path = tmp_path / "numbers.csv"
    path.write_text("1,2,3\n4,5,6\n")

    with pytest.raises(BadInputError, match="not an image"):
        run(path)


# Metadata and encodings


def test_outputs_carry_no_metadata_and_jpeg_is_progressive(tmp_path: Path) -> None:
    source = photo(1000, 800).icc_transform("p3", input_profile="srgb").copy()
    source.set_type(pyvips.GValue.gstr_type, "exif-ifd0-Artist", "Jane Example")
    source.set_type(pyvips.GValue.blob_type, "xmp-data", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    path = save(source, tmp_path / "tagged.jpg")
    tagged = pyvips.Image.new_from_file(path)
    metadata = ("exif-data", "xmp-data", "iptc-data", "icc-profile-data")
    assert all(tagged.get_typeof(field) for field in ("exif-data", "xmp-data", "icc-profile-data"))

    for spec in (JPEG, EncodeSpec("webp", 80), EncodeSpec("avif", 50)):
        for rendition in run(path, encode=spec).renditions:
            image = decoded(rendition.data)
            assert [field for field in metadata if image.get_typeof(field)] == []
            assert b"Jane Example" not in rendition.data
            if spec.format == "jpeg":
                assert image.get("interlaced") == 1
                assert b"\xff\xc2" in rendition.data  # SOF2: progressive DCT


def test_sizes_named_in_baseline_sizes_are_baseline_jpegs_of_the_same_pixels(
    tmp_path: Path,
) -> None:
    path = save(photo(1000, 800), tmp_path / "photo.jpg")
    spec = EncodeSpec("jpeg", 82, baseline_sizes=frozenset({"THUMBNAIL", "MEDIUM"}))

    progressive = by_name(run(path))
    mixed = by_name(run(path, encode=spec))

    for name, rendition in mixed.items():
        baseline = name in spec.baseline_sizes
        assert (b"\xff\xc0" in rendition.data) == baseline  # SOF0: baseline DCT
        assert (b"\xff\xc2" in rendition.data) == (not baseline)  # SOF2: progressive DCT
        same = decoded(progressive[name].data)
        assert (decoded(rendition.data) - same).abs().max() == 0  # only the file layout differs


@pytest.mark.parametrize(
    ("spec", "loader", "content_type", "ext"),
    [
        (EncodeSpec("jpeg", 82), "jpegload_buffer", "image/jpeg", "jpg"),
        (EncodeSpec("webp", 80), "webpload_buffer", "image/webp", "webp"),
        (EncodeSpec("avif", 50), "heifload_buffer", "image/avif", "avif"),
    ],
)
def test_each_output_format_encodes_and_decodes(
    tmp_path: Path, spec: EncodeSpec, loader: str, content_type: str, ext: str
) -> None:
    source = photo(1000, 700)
    path = save(source, tmp_path / "in.png")

    result = run(path, encode=spec)

    for rendition in result.renditions:
        image = decoded(rendition.data)
        assert image.get("vips-loader") == loader
        assert (rendition.content_type, rendition.ext) == (content_type, ext)
    large = decoded(by_name(result)["LARGE"].data)
    assert similarity(large, source) > 0.95


def test_quality_changes_the_encoded_size(tmp_path: Path) -> None:
    path = save(photo(1000, 700), tmp_path / "in.png")

    low = by_name(run(path, encode=EncodeSpec("jpeg", 30)))["LARGE"].data
    high = by_name(run(path, encode=EncodeSpec("jpeg", 95)))["LARGE"].data

    assert len(low) < len(high) / 2


def test_an_unknown_output_format_or_an_empty_size_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown output format"):
        EncodeSpec("gif", 80)
    with pytest.raises(ValueError, match="at least 1x1"):
        SizeSpec("NONE", 0, 100, crop=False)


# Blurhash


def test_blurhash_of_the_image_matches_the_reference_encoder(tmp_path: Path) -> None:
    source = photo(640, 480, seed=5)
    path = save(source, tmp_path / "in.png")
    tiny = source.thumbnail_image(32, height=32)

    result = run(path)

    assert len(result.blurhash) == 4 + 2 * 4 * 3
    assert result.blurhash == reference_blurhash.encode(tiny.numpy().tolist(), 4, 3)


@pytest.mark.parametrize("shape", [(1, 1), (2, 7), (24, 32), (32, 21)])
@pytest.mark.parametrize("components", [(1, 1), (4, 3), (9, 9)])
def test_blurhash_encoder_matches_the_reference_bit_for_bit(
    shape: tuple[int, int], components: tuple[int, int]
) -> None:
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    pixels = rng.integers(0, 256, size=(*shape, 3), dtype=np.uint8)

    ours = blurhash.encode(pixels, *components)

    assert ours == reference_blurhash.encode(pixels.tolist(), *components)


def test_blurhash_of_a_greyscale_or_transparent_image_is_still_a_colour_hash(
    tmp_path: Path,
) -> None:
    grey = save(photo(300, 200).colourspace("b-w"), tmp_path / "grey.png")
    clear = save(
        (pyvips.Image.black(300, 200, bands=4)).cast("uchar").copy(interpretation="srgb"),
        tmp_path / "clear.png",
    )

    assert len(run(grey).blurhash) == 28
    # Fully transparent pixels are flattened onto white, like the JPEG renditions.
    assert reference_blurhash.decode(run(clear).blurhash, 1, 1)[0][0] == [255, 255, 255]


def test_decoding_a_large_jpeg_at_eighths_gives_the_same_sizes_and_near_the_same_pixels(
    tmp_path: Path,
) -> None:
    """IMAGE_JPEG_DECODE_EIGHTHS: a 4000x3000 JPEG decoded at 3/8 (1500x1125) for LARGE, not at
    1/2: every size as before, pixels within a hair of the halves'."""
    source = save(photo(4000, 3000), tmp_path / "big.jpg", Q=90)
    halves = make_thumbnails(source, SIZES, JPEG, LIMITS)
    eighths = make_thumbnails(source, SIZES, JPEG, LIMITS, True)

    assert [(r.name, r.width, r.height) for r in eighths.renditions] == [
        (r.name, r.width, r.height) for r in halves.renditions
    ]
    assert (eighths.source_width, eighths.source_height) == (4000, 3000)
    for made, reference in zip(eighths.renditions, halves.renditions, strict=True):
        assert made.data != reference.data, f"{made.name} came from another decode"
        assert similarity(decoded(made.data), decoded(reference.data)) > 0.99
