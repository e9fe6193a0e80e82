"""Benchmark the thumbnail pipeline against the fastest thing pyvips can do, and against Pillow.

On generated 24-megapixel photos (6000x4000, quality-90 JPEG), per image:

  (a)  ours     `make_thumbnails`: 150x150 crop, 800x600 and 1920x1080 inside, JPEG q82
                progressive with optimised Huffman tables, no metadata
  (b)  largest  plain `pyvips.Image.thumbnail` to 1920x1080 + `jpegsave`, same JPEG settings:
                one shrink-on-load decode and one encode
  (b') largest  the same, but decoded the way (a) decodes (JPEG shrink-on-load to the largest
                power of two that still covers the box; `Image.thumbnail` keeps a factor of two
                more and so decodes these photos at full size): the honest floor for (a)
  (c)  Pillow   `draft()` (the same DCT scaling) + Lanczos to the same three sizes (centre crop,
                Pillow has no attention crop), same JPEG settings

each with libvips on one thread and on its default thread count (one child process each, since
VIPS_CONCURRENCY is read when libvips starts), then the peak memory (RSS high-water, VmHWM) of
`make_thumbnails` on a generated 100-megapixel JPEG, in a fresh child process.

Targets: (a) within 1.15x of (b); (c) at least 1.5x slower than (a); under 150 MB for 100 MP.
The machine's load average is printed: other processes on the same cores skew the timings.

    .venv/bin/python scripts/bench_thumbnails.py [--images 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

DEFAULT_SIZES = [
    ("THUMBNAIL", 150, 150, True),
    ("MEDIUM", 800, 600, False),
    ("LARGE", 1920, 1080, False),
]
QUALITY = 82
VARIANTS = ("ours", "largest", "largest_shrunk", "pillow")
TEXTURE_SIGMA = 9.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=5, help="24 MP photos to generate (5)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per image (3)")
    parser.add_argument("--width", type=int, default=6000)
    parser.add_argument("--height", type=int, default=4000)
    parser.add_argument("--big-width", type=int, default=12000, help="memory test input width")
    parser.add_argument("--big-height", type=int, default=8400, help="memory test input height")
    parser.add_argument("--no-memory", action="store_true", help="skip the 100 MP memory test")
    parser.add_argument("--child", choices=["timing", "memory"], help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "timing":
        print(json.dumps(child_timing(Path(args.dir), args.repeats)))
    elif args.child == "memory":
        print(json.dumps(child_memory(Path(args.dir))))
    else:
        run_benchmark(args)


# The parent: generate inputs, start the children, print the report.


def run_benchmark(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-thumbnails-") as tmp:
        workdir = Path(tmp)
        generate_inputs(workdir, args)
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"generated inputs in {time.perf_counter() - started:.1f} s; load average {load}\n")
        for threads in ("1", None):
            label = "1 thread" if threads else f"default threads ({os.cpu_count()} cores)"
            result = run_child("timing", workdir, args.repeats, threads)
            print_timing(f"libvips {label}", result)
        if not args.no_memory:
            print_memory(run_child("memory", workdir / "big", args.repeats, None), args)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"total benchmark time {time.perf_counter() - started:.0f} s; load average {load}")


def generate_inputs(workdir: Path, args: argparse.Namespace) -> None:
    import pyvips

    for i in range(args.images):
        photo = synthetic_photo(args.width, args.height, seed=i + 1)
        photo.jpegsave(str(workdir / f"photo{i + 1}.jpg"), Q=90)
    if not args.no_memory:
        (workdir / "big").mkdir()
        big = synthetic_photo(args.big_width, args.big_height, seed=99)
        big.jpegsave(str(workdir / "big" / "big.jpg"), Q=90)
    pyvips.cache_set_max(0)


def synthetic_photo(width: int, height: int, seed: int) -> Any:
    """Fractal-noise luminance (octaves of upsampled noise), soft colour casts, a gradient, fine
    texture and a few hard-edged shapes: it compresses and decodes like a photograph."""
    import pyvips

    step = 4  # the smooth layers are made at a quarter size, then scaled up once
    low_w, low_h = width // step + 1, height // step + 1

    def octave(cell: int, sigma: float, octave_seed: int) -> Any:
        cell = max(cell, 1)
        noise = pyvips.Image.gaussnoise(
            low_w // cell + 2, low_h // cell + 2, sigma=sigma, mean=0, seed=octave_seed
        )
        return noise.resize(cell, kernel="linear").crop(0, 0, low_w, low_h) if cell > 1 else noise

    octaves = [(low_w // 10, 45.0), (low_w // 50, 25.0), (low_w // 250, 14.0), (1, 6.0)]
    luma = pyvips.Image.black(low_w, low_h) + 120
    for i, (cell, sigma) in enumerate(octaves):
        luma = luma + octave(cell, sigma, seed * 100 + i)
    xy = pyvips.Image.xyz(low_w, low_h)
    luma = luma + xy[0] * (50 / low_w) - xy[1] * (30 / low_h)
    colour = [
        luma + octave(low_w // 6, 18.0, seed * 100 + 60 + b) + offset
        for b, offset in enumerate((12, 0, -14))
    ]
    smooth = colour[0].bandjoin(colour[1:]).cast("uchar").copy_memory()
    image = smooth.resize(step, kernel="linear").crop(0, 0, width, height) + texture(
        width, height, seed
    )
    return with_shapes(image.cast("uchar").copy(interpretation="srgb"), seed)


def texture(width: int, height: int, seed: int) -> Any:
    """Pixel-level detail: a noise tile repeated (full-size noise is slow to generate); the
    tile's odd size keeps it out of step with the 8x8 JPEG blocks."""
    import pyvips

    tile_w, tile_h = 1021, 1019
    tile = pyvips.Image.gaussnoise(
        tile_w, tile_h, sigma=TEXTURE_SIGMA, mean=0, seed=seed * 100 + 50
    )
    tile = tile.bandjoin(
        [
            pyvips.Image.gaussnoise(tile_w, tile_h, sigma=TEXTURE_SIGMA / 2, mean=0, seed=seed + b)
            for b in (1, 2)
        ]
    ).copy_memory()
    return tile.replicate(width // tile_w + 1, height // tile_h + 1).crop(0, 0, width, height)


def with_shapes(image: Any, seed: int) -> Any:
    """Some solid discs and boxes, drawn at a quarter size and scaled up: hard edges."""
    import pyvips

    step = 4
    small_w, small_h = image.width // step, image.height // step
    paint = pyvips.Image.black(small_w, small_h, bands=3).copy_memory()
    mask = pyvips.Image.black(small_w, small_h).copy_memory()
    for i in range(7):
        x = (seed * 7919 + i * 104729) % small_w
        y = (seed * 3571 + i * 15485863) % small_h
        colour = [(seed * 50 + i * 80) % 256, (i * 140) % 256, (seed * 30 + i * 60) % 256]
        if i % 2:
            paint = paint.draw_circle(colour, x, y, small_h // 12, fill=True)
            mask = mask.draw_circle(255, x, y, small_h // 12, fill=True)
        else:
            paint = paint.draw_rect(colour, x, y, small_w // 10, small_h // 14, fill=True)
            mask = mask.draw_rect(255, x, y, small_w // 10, small_h // 14, fill=True)
    paint = paint.resize(step, kernel="nearest").gravity("north-west", image.width, image.height)
    mask = mask.resize(step, kernel="nearest").gravity("north-west", image.width, image.height)
    return (mask > 128).ifthenelse(paint.cast("uchar"), image).copy(interpretation="srgb")


def run_child(kind: str, workdir: Path, repeats: int, threads: str | None) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "VIPS_CONCURRENCY"}
    if threads:
        env["VIPS_CONCURRENCY"] = threads
    command = [sys.executable, __file__, "--child", kind, "--dir", str(workdir)]
    command += ["--repeats", str(repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"benchmark child failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def print_timing(title: str, result: dict[str, Any]) -> None:
    medians: dict[str, dict[str, float]] = result["medians_ms"]
    print(f"{title}: median of {result['repeats']} runs per image, ms")
    print(
        "  (a) ours, 3 sizes   (b) largest only, Image.thumbnail   (b') largest only, our decode"
        "   (c) Pillow, 3 sizes"
    )
    header = ("image", "(a)", "(b)", "(b')", "(c)", "a/b", "a/b'", "c/a")
    print("  " + f"{header[0]:<12}" + "".join(f"{h:>8}" for h in header[1:]))
    rows = {name: [medians[v][name] for v in VARIANTS] for name in sorted(medians["ours"])}
    rows["median"] = [statistics.median(medians[v].values()) for v in VARIANTS]
    for name, (ours, largest, shrunk, pillow) in rows.items():
        ratios = (ours / largest, ours / shrunk, pillow / ours)
        print(
            f"  {name:<12}{ours:>8.0f}{largest:>8.0f}{shrunk:>8.0f}{pillow:>8.0f}"
            + "".join(f"{r:>7.2f}x" for r in ratios)
        )
    ours, largest, shrunk, pillow = rows["median"]
    print(
        f"  ours / largest-only: {ours / largest:.2f}x (target <= 1.15x: "
        f"{_verdict(ours / largest <= 1.15)}), {ours / shrunk:.2f}x against the same decode;  "
        f"Pillow / ours: {pillow / ours:.2f}x (target >= 1.5x: {_verdict(pillow / ours >= 1.5)})\n"
    )


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def print_memory(result: dict[str, Any], args: argparse.Namespace) -> None:
    megapixels = args.big_width * args.big_height / 1e6
    peak = result["peak_rss_mb"]
    print(
        f"make_thumbnails on a {args.big_width}x{args.big_height} ({megapixels:.0f} MP, "
        f"{result['input_mb']:.0f} MB) JPEG, default threads, fresh process:"
    )
    print(
        f"  {result['seconds']:.2f} s; peak RSS {peak:.0f} MB, of which "
        f"{result['baseline_rss_mb']:.0f} MB is Python + pyvips + numpy before the call "
        f"(target < 150 MB: {_verdict(peak < 150)})\n"
    )


# The children: run in a fresh interpreter, print one JSON line.


def child_timing(workdir: Path, repeats: int) -> dict[str, Any]:
    import pyvips

    from mediaworker.processing.image import configure_libvips

    configure_libvips()  # no operation cache: every run decodes again
    photos = sorted(workdir.glob("photo*.jpg"))
    runs = {
        "ours": run_ours,
        "largest": run_largest_only,
        "largest_shrunk": run_largest_only_shrunk,
        "pillow": run_pillow,
    }
    for fn in runs.values():  # warm up: libraries loaded, code paths touched
        fn(photos[0])
    times: dict[str, dict[str, list[float]]] = {v: {p.name: [] for p in photos} for v in runs}
    for _ in range(repeats):
        for photo in photos:
            for variant, fn in runs.items():  # interleaved, so drift hits all three alike
                started = time.perf_counter()
                fn(photo)
                times[variant][photo.name].append((time.perf_counter() - started) * 1000)
    medians = {
        v: {name: statistics.median(t) for name, t in per.items()} for v, per in times.items()
    }
    return {"repeats": repeats, "threads": pyvips.concurrency_get(), "medians_ms": medians}


def run_ours(path: Path) -> None:
    from mediaworker.processing.decode import ImageLimits
    from mediaworker.processing.image import EncodeSpec, SizeSpec, make_thumbnails

    sizes = [SizeSpec(name, w, h, crop) for name, w, h, crop in DEFAULT_SIZES]
    make_thumbnails(str(path), sizes, EncodeSpec("jpeg", QUALITY), ImageLimits(1 << 30, 10**9))


def run_largest_only(path: Path) -> None:
    import pyvips

    _, width, height, _ = DEFAULT_SIZES[-1]
    image = pyvips.Image.thumbnail(str(path), width, height=height, size="down")
    image.jpegsave_buffer(Q=QUALITY, interlace=True, optimize_coding=True, keep="none")


def run_largest_only_shrunk(path: Path) -> None:
    """(b) with the decode ours uses: JPEG shrink-on-load to a power of two that still covers
    the box (libvips' thumbnail keeps a factor of two more), then the same reduce."""
    import pyvips

    _, width, height, _ = DEFAULT_SIZES[-1]
    header = pyvips.Image.new_from_file(str(path))
    scale = min(width / header.width, height / header.height)
    need_w, need_h = header.width * scale, header.height * scale
    fits = (n for n in (8, 4, 2) if header.width // n >= need_w and header.height // n >= need_h)
    image = pyvips.Image.new_from_file(str(path), access="sequential", shrink=next(fits, 1))
    image = image.thumbnail_image(width, height=height, size="down")
    image.jpegsave_buffer(Q=QUALITY, interlace=True, optimize_coding=True, keep="none")


def run_pillow(path: Path) -> None:
    import io

    from PIL import Image, ImageOps

    with Image.open(path) as source:
        _, box_w, box_h, _ = DEFAULT_SIZES[-1]
        scale = min(box_w / source.width, box_h / source.height, 1.0)
        source.draft("RGB", (round(source.width * scale), round(source.height * scale)))
        image = ImageOps.exif_transpose(source).convert("RGB")
    outputs = {}
    for name, width, height, crop in sorted(DEFAULT_SIZES, key=lambda s: -s[1] * s[2]):
        if crop:
            outputs[name] = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
        else:
            image = image.copy()
            image.thumbnail((width, height), Image.Resampling.LANCZOS)  # reducing_gap=2.0
            outputs[name] = image
    for rendition in outputs.values():
        rendition.save(io.BytesIO(), "JPEG", quality=QUALITY, progressive=True, optimize=True)


def child_memory(workdir: Path) -> dict[str, Any]:
    import numpy  # noqa: F401 - loaded by the pipeline; counted in the baseline like pyvips

    from mediaworker.processing.decode import ImageLimits
    from mediaworker.processing.image import (
        EncodeSpec,
        SizeSpec,
        configure_libvips,
        make_thumbnails,
    )

    configure_libvips()
    path = workdir / "big.jpg"
    baseline_mb = peak_rss_mb()
    sizes = [SizeSpec(name, w, h, crop) for name, w, h, crop in DEFAULT_SIZES]
    started = time.perf_counter()
    make_thumbnails(str(path), sizes, EncodeSpec("jpeg", QUALITY), ImageLimits(1 << 30, 10**9))
    seconds = time.perf_counter() - started
    return {
        "seconds": seconds,
        "input_mb": path.stat().st_size / 1e6,
        "baseline_rss_mb": baseline_mb,
        "peak_rss_mb": peak_rss_mb(),
    }


def peak_rss_mb() -> float:
    """This process's RSS high-water mark.

    VmHWM, not getrusage: on Linux ru_maxrss survives fork and exec, so a child started by a
    parent that once held a 100 MP image would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
