"""What the AR tests share: the validators users trust, run on our files, and test designs.

- `gltf_reports(paths)`  Khronos glTF-Validator (npm `gltf-validator`, installed in tests/node
  by `scripts/run bootstrap`), one report per file: {"numErrors", "numWarnings", "messages"}
- `usd_problems(path)`   every validator usd-core registers (`pxr.UsdValidation`), run on the
  stage opened from the file: (validator, error name, message) for each problem found
- `quadrant_design(path, width, height)`  red, green, blue and yellow quarters (top left, top
  right, bottom left, bottom right): shows in a render which way up and round a design is
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pyvips

NODE_DIR = Path(__file__).resolve().parent / "node"
QUADRANTS = {
    "top_left": (220, 30, 30),
    "top_right": (30, 180, 40),
    "bottom_left": (30, 60, 220),
    "bottom_right": (230, 210, 30),
}


def gltf_reports(paths: list[Path]) -> dict[str, dict[str, Any]]:
    """{path: issues} from glTF-Validator for every GLB in `paths`, in one node process."""
    node = shutil.which("node")
    assert node, "node is missing: run ./scripts/run bootstrap (apt nodejs npm)"
    assert (NODE_DIR / "node_modules" / "gltf-validator").is_dir(), (
        "gltf-validator is missing: run ./scripts/run bootstrap (npm ci in tests/node)"
    )
    run = subprocess.run(
        [node, str(NODE_DIR / "validate_gltf.mjs"), *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return {report["path"]: report["issues"] for report in json.loads(run.stdout)}


def usd_problems(path: Path) -> list[tuple[str, str, str]]:
    """(validator, error, message) for everything any registered USD validator reports."""
    from pxr import Usd, UsdValidation

    registry = UsdValidation.ValidationRegistry()
    validators = registry.GetOrLoadAllValidators()
    assert len(validators) >= 20, "usd-core registered fewer validators than expected"
    stage = Usd.Stage.Open(str(path))
    errors = UsdValidation.ValidationContext(validators).Validate(stage)
    return [
        (error.GetValidator().GetMetadata().name, error.GetName(), error.GetMessage())
        for error in errors
    ]


def registered_usd_validators() -> set[str]:
    from pxr import UsdValidation

    registry = UsdValidation.ValidationRegistry()
    return {v.GetMetadata().name for v in registry.GetOrLoadAllValidators()}


def quadrant_design(path: Path, width: int, height: int) -> Path:
    pixels = np.zeros((height, width, 3), np.uint8)
    top, left = slice(0, height // 2), slice(0, width // 2)
    bottom, right = slice(height // 2, height), slice(width // 2, width)
    pixels[top, left] = QUADRANTS["top_left"]
    pixels[top, right] = QUADRANTS["top_right"]
    pixels[bottom, left] = QUADRANTS["bottom_left"]
    pixels[bottom, right] = QUADRANTS["bottom_right"]
    image = pyvips.Image.new_from_array(pixels).copy(interpretation="srgb")
    image.write_to_file(str(path))
    return path


def photo_design(path: Path, side_px: int, seed: int = 7) -> Path:
    """A photo-like design (smooth colour fields with fine noise) `side_px` square, JPEG 92."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    base = pyvips.Image.new_from_array(coarse).copy(interpretation="srgb")
    base = base.resize(side_px / 8, kernel="cubic")
    noise = rng.normal(0, 12, (side_px, side_px, 3)).astype(np.float32)
    pixels = np.clip(base.numpy()[:side_px, :side_px].astype(np.float32) + noise, 0, 255)
    image = pyvips.Image.new_from_array(pixels.astype(np.uint8)).copy(interpretation="srgb")
    image.jpegsave(str(path), Q=92)
    return path
