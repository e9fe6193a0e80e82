"""A `geometry.Model` as binary glTF 2.0 (GLB): what Scene Viewer, WebXR and model-viewer load.

One mesh with one primitive per part, one node, one scene; the design embedded once as the
base-colour texture of the textured parts (metallic 0, the part's roughness), the other parts
a plain colour. Written directly (the format is a JSON chunk and a binary chunk): every
buffer view 4-byte aligned, POSITION with its exact float32 min and max, indices as unsigned
short when they fit. Validity is checked in the tests by Khronos' glTF-Validator.
"""

from __future__ import annotations

import json
import struct
from typing import Any

import numpy as np

from mediaworker.processing.geometry import Model, Part

__all__ = ["to_glb"]

GLB_MAGIC = 0x46546C67  # "glTF"
GLB_VERSION = 2
CHUNK_JSON = 0x4E4F534A
CHUNK_BIN = 0x004E4942
ARRAY_BUFFER = 34962
ELEMENT_ARRAY_BUFFER = 34963
FLOAT = 5126
UNSIGNED_SHORT = 5123
UNSIGNED_INT = 5125
LINEAR, LINEAR_MIPMAP_LINEAR, CLAMP_TO_EDGE = 9729, 9987, 33071
TRIANGLES = 4
GENERATOR = "mediaworker"


class _Builder:
    """Accumulates the binary chunk and the JSON arrays that point into it."""

    def __init__(self) -> None:
        self.blob = bytearray()
        self.views: list[dict[str, Any]] = []
        self.accessors: list[dict[str, Any]] = []

    def view(self, data: bytes, target: int | None = None) -> int:
        self.blob.extend(b"\0" * (-len(self.blob) % 4))
        view: dict[str, Any] = {"buffer": 0, "byteOffset": len(self.blob), "byteLength": len(data)}
        if target is not None:
            view["target"] = target
        self.blob.extend(data)
        self.views.append(view)
        return len(self.views) - 1

    def accessor(self, array: np.ndarray, kind: str, *, bounds: bool = False) -> int:
        target = ELEMENT_ARRAY_BUFFER if kind == "SCALAR" else ARRAY_BUFFER
        component = {np.dtype(np.float32): FLOAT, np.dtype(np.uint16): UNSIGNED_SHORT}.get(
            array.dtype, UNSIGNED_INT
        )
        accessor: dict[str, Any] = {
            "bufferView": self.view(np.ascontiguousarray(array).tobytes(), target),
            "componentType": component,
            "count": len(array) if kind != "SCALAR" else array.size,
            "type": kind,
        }
        if bounds:
            accessor["min"] = array.min(axis=0).tolist()
            accessor["max"] = array.max(axis=0).tolist()
        self.accessors.append(accessor)
        return len(self.accessors) - 1


def to_glb(model: Model, texture_jpeg: bytes) -> bytes:
    """The GLB of `model`, with `texture_jpeg` (sRGB) as the design."""
    builder = _Builder()
    primitives = [_primitive(builder, part, index) for index, part in enumerate(model.parts)]
    document: dict[str, Any] = {
        "asset": {"version": "2.0", "generator": GENERATOR},
        "scene": 0,
        "scenes": [{"name": model.product, "nodes": [0]}],
        "nodes": [{"name": model.product, "mesh": 0}],
        "meshes": [{"name": model.product, "primitives": primitives}],
        "materials": [_material(part) for part in model.parts],
    }
    if any(part.material.textured for part in model.parts):
        document["images"] = [{"bufferView": builder.view(texture_jpeg), "mimeType": "image/jpeg"}]
        document["samplers"] = [
            {
                "magFilter": LINEAR,
                "minFilter": LINEAR_MIPMAP_LINEAR,
                "wrapS": CLAMP_TO_EDGE,
                "wrapT": CLAMP_TO_EDGE,
            }
        ]
        document["textures"] = [{"sampler": 0, "source": 0}]
    builder.blob.extend(b"\0" * (-len(builder.blob) % 4))
    document["buffers"] = [{"byteLength": len(builder.blob)}]
    document["bufferViews"] = builder.views
    document["accessors"] = builder.accessors
    return _container(document, bytes(builder.blob))


def _primitive(builder: _Builder, part: Part, material: int) -> dict[str, Any]:
    attributes = {
        "POSITION": builder.accessor(part.positions, "VEC3", bounds=True),
        "NORMAL": builder.accessor(part.normals, "VEC3"),
    }
    if part.uvs is not None:
        attributes["TEXCOORD_0"] = builder.accessor(part.uvs, "VEC2")
    dtype = np.uint16 if len(part.positions) <= np.iinfo(np.uint16).max else np.uint32
    indices = builder.accessor(part.indices.astype(dtype).ravel(), "SCALAR")
    return {"attributes": attributes, "indices": indices, "material": material, "mode": TRIANGLES}


def _material(part: Part) -> dict[str, Any]:
    pbr: dict[str, Any] = {
        "baseColorFactor": [*part.material.base_colour, 1.0],
        "metallicFactor": 0.0,
        "roughnessFactor": part.material.roughness,
    }
    if part.material.textured:
        pbr["baseColorTexture"] = {"index": 0, "texCoord": 0}
    return {"name": part.material.name, "pbrMetallicRoughness": pbr}


def _container(document: dict[str, Any], blob: bytes) -> bytes:
    text = json.dumps(document, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 4)  # the JSON chunk is padded with spaces
    total = 12 + 8 + len(text) + 8 + len(blob)
    return b"".join(
        [
            struct.pack("<III", GLB_MAGIC, GLB_VERSION, total),
            struct.pack("<II", len(text), CHUNK_JSON),
            text,
            struct.pack("<II", len(blob), CHUNK_BIN),
            blob,
        ]
    )
