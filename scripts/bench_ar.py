"""Benchmark the AR export: poster and mug from a 1024 px and a 4096 px design.

For each design and product, the median of `--repeats` runs of `make_ar_export` (decode, one
texture encode, mesh, GLB, USDZ, the 1024 px still) with the wall time of each step, the CPU
time of the whole (what counts on a loaded machine), and the sizes of the three files.

The reference: trimesh (the usual Python way to write a GLB) exporting the same meshes with
the same JPEG texture; its GLB time and size against our GLB step, as ratios (ours / trimesh;
below 1 is better for us).

Targets: a 1024 px design gives a GLB under 1 MB. The load average is printed: other
processes on the same cores skew the timings.

    .venv/bin/python scripts/bench_ar.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import io
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

from mediaworker.processing import ar_export, gltf, usdz
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.geometry import Model

LIMITS = ImageLimits(max_input_bytes=200 * 2**20, max_pixels=100_000_000)
PRODUCTS: dict[str, float] = {"poster": 0.5, "mug": 0.082}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    usdz.to_usdz(ar_export.geometry.poster(1, 1), _jpeg(_design(64)))  # import pxr once
    with tempfile.TemporaryDirectory() as work:
        for side in (1024, 4096):
            path = Path(work) / f"design-{side}.jpg"
            path.write_bytes(_jpeg(_design(side)))
            for product, width_m in PRODUCTS.items():
                _bench(path, side, product, width_m, args.repeats)


def _bench(path: Path, side: int, product: str, width_m: float, repeats: int) -> None:
    spec = ar_export.ArSpec(product, width_m)  # type: ignore[arg-type]
    steps: dict[str, list[float]] = {}
    result: ar_export.ArExport | None = None
    for _ in range(repeats):
        result = _timed_export(str(path), spec, steps)
    assert result is not None
    total = statistics.median(steps["total"])
    breakdown = ", ".join(f"{k} {statistics.median(v) * 1000:.0f}" for k, v in steps.items())
    print(
        f"{side:>5} px {product:<6} total {total * 1000:6.0f} ms ({breakdown} ms)  "
        f"GLB {_kib(result.glb)}  USDZ {_kib(result.usdz)}  still {_kib(result.still_png)}"
    )
    design = ar_export.load_design(str(path), spec.texture_max_px, LIMITS)
    texture = ar_export.encode_texture(design)
    model = ar_export.build_model(spec, design.width / design.height)
    ours_s, ours = _median(lambda: gltf.to_glb(model, texture), repeats)
    ref_s, ref = _median(lambda: _trimesh_glb(model, texture), repeats)
    print(
        f"{'':>8} {'':<6} GLB step: ours {ours_s * 1000:.1f} ms {_kib(ours)}, trimesh "
        f"{ref_s * 1000:.1f} ms {_kib(ref)}; ratio ours/trimesh: time {ours_s / ref_s:.4f}, "
        f"size {len(ours) / len(ref):.3f}"
    )


def _timed_export(path: str, spec: ar_export.ArSpec, steps: dict[str, list[float]]) -> Any:
    cpu_start = time.process_time()
    marks: list[tuple[str, float]] = [("start", time.perf_counter())]

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter()))

    design = ar_export.load_design(path, spec.texture_max_px, LIMITS)
    mark("decode")
    texture = ar_export.encode_texture(design)
    mark("encode")
    model = ar_export.build_model(spec, design.width / design.height)
    mark("mesh")
    glb = gltf.to_glb(model, texture)
    mark("glb")
    usdz_data = usdz.to_usdz(model, texture)
    mark("usdz")
    still = ar_export.render_still(model, design.numpy(), spec)
    mark("still")
    for (_, before), (name, after) in itertools.pairwise(marks):
        steps.setdefault(name, []).append(after - before)
    steps.setdefault("total", []).append(marks[-1][1] - marks[0][1])
    steps.setdefault("cpu", []).append(time.process_time() - cpu_start)
    return ar_export.ArExport(spec.product, glb, usdz_data, still, spec.still_px, 0, 0, (0, 0, 0))


def _trimesh_glb(model: Model, texture_jpeg: bytes) -> bytes:
    import trimesh
    from PIL import Image

    image = Image.open(io.BytesIO(texture_jpeg))
    scene = trimesh.Scene()
    for part in model.parts:
        material = trimesh.visual.material.PBRMaterial(
            baseColorFactor=[*part.material.base_colour, 1.0],
            baseColorTexture=image if part.material.textured else None,
            metallicFactor=0.0,
            roughnessFactor=part.material.roughness,
        )
        # trimesh flips v when it writes glTF (its UVs have the origin bottom left)
        uv = None if part.uvs is None else np.column_stack([part.uvs[:, 0], 1 - part.uvs[:, 1]])
        mesh = trimesh.Trimesh(
            vertices=part.positions,
            faces=part.indices,
            vertex_normals=part.normals,
            visual=trimesh.visual.TextureVisuals(uv=uv, material=material),
            process=False,
        )
        scene.add_geometry(mesh, node_name=part.name)
    data: bytes = scene.export(file_type="glb")
    return data


def _median(fn: Callable[[], bytes], repeats: int) -> tuple[float, bytes]:
    times, data = [], b""
    for _ in range(repeats):
        start = time.perf_counter()
        data = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), data


def _design(side: int) -> Any:
    """A photo-like design: smooth colour fields and fine noise."""
    rng = np.random.default_rng(side)
    coarse = pyvips.Image.new_from_array(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    base = coarse.copy(interpretation="srgb").resize(side / 8, kernel="cubic")
    noise = rng.normal(0, 12, (side, side, 3)).astype(np.float32)
    pixels = np.clip(base.numpy()[:side, :side].astype(np.float32) + noise, 0, 255)
    return pyvips.Image.new_from_array(pixels.astype(np.uint8)).copy(interpretation="srgb")


def _jpeg(image: Any) -> bytes:
    return bytes(image.jpegsave_buffer(Q=92))


def _kib(data: bytes) -> str:
    return f"{len(data) / 1024:.0f} KiB"


if __name__ == "__main__":
    main()
