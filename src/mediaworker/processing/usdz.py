"""A `geometry.Model` as USDZ, what iOS AR Quick Look loads, written with usd-core (pxr).

The stage: Y up, 1 metre a unit, a default prim `/Root` (kind component) holding one Mesh
per part under `/Root/Geom` and one UsdPreviewSurface material per part under
`/Root/Materials`, bound with MaterialBindingAPI. The textured material reads the design
(`texture.jpg`, sRGB, clamped) through a UsdUVTexture fed by the `st` primvar; USD's t grows
upwards, so t = 1 - v of the glTF UVs. The layer is packaged with
`UsdUtils.CreateNewARKitUsdzPackage` (flattened, the texture inside, ARKit's rules). Validity
is checked in the tests by every validator usd-core registers (`pxr.UsdValidation`).

pxr is imported when a USDZ is made, not with this module: it costs ~0.3 s and only the CPU
pool's processes need it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from mediaworker.errors import NotConfiguredError
from mediaworker.processing.geometry import Model, Part

__all__ = ["to_usdz"]

TEXTURE_NAME = "texture.jpg"
NO_USD_CORE = "USDZ export needs usd-core: install mediaworker[ar]"


def to_usdz(model: Model, texture_jpeg: bytes) -> bytes:
    """The USDZ of `model`, with `texture_jpeg` (sRGB) as the design; NOT_CONFIGURED when
    usd-core is not installed (the optional extra `mediaworker[ar]`)."""
    try:
        from pxr import Sdf, UsdUtils
    except ImportError as exc:
        raise NotConfiguredError(NO_USD_CORE) from exc

    with tempfile.TemporaryDirectory(prefix="mediaworker-usdz-") as work:
        folder = Path(work)
        (folder / TEXTURE_NAME).write_bytes(texture_jpeg)
        layer = folder / f"{model.product}.usdc"
        _write_stage(model, layer)
        package = folder / f"{model.product}.usdz"
        if not UsdUtils.CreateNewARKitUsdzPackage(Sdf.AssetPath(str(layer)), str(package)):
            raise RuntimeError("usd-core could not package the USDZ")
        return package.read_bytes()


def _write_stage(model: Model, path: Path) -> None:
    from pxr import Kind, Usd, UsdGeom

    stage = Usd.Stage.CreateNew(str(path))
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, UsdGeom.LinearUnits.meters)
    root = UsdGeom.Xform.Define(stage, "/Root")
    Usd.ModelAPI(root.GetPrim()).SetKind(Kind.Tokens.component)
    stage.SetDefaultPrim(root.GetPrim())
    UsdGeom.Scope.Define(stage, "/Root/Geom")
    UsdGeom.Scope.Define(stage, "/Root/Materials")
    for part in model.parts:
        mesh = _mesh(stage, f"/Root/Geom/{part.name}", part)
        material = _material(stage, f"/Root/Materials/{part.name}", part)
        _bind(mesh, material)
    stage.GetRootLayer().Save()


def _mesh(stage: Any, path: str, part: Part) -> Any:
    from pxr import Sdf, UsdGeom, Vt

    mesh = UsdGeom.Mesh.Define(stage, path)
    mesh.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    mesh.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(part.positions))
    mesh.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(part.indices), 3, np.int32)))
    mesh.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(part.indices.astype(np.int32).ravel()))
    mesh.CreateNormalsAttr(Vt.Vec3fArray.FromNumpy(part.normals))
    mesh.SetNormalsInterpolation(UsdGeom.Tokens.vertex)
    low, high = part.positions.min(axis=0), part.positions.max(axis=0)
    mesh.CreateExtentAttr(Vt.Vec3fArray.FromNumpy(np.stack([low, high])))
    if part.uvs is not None:
        st = np.column_stack([part.uvs[:, 0], 1.0 - part.uvs[:, 1]]).astype(np.float32)
        primvar = UsdGeom.PrimvarsAPI(mesh).CreatePrimvar(
            "st", Sdf.ValueTypeNames.TexCoord2fArray, UsdGeom.Tokens.vertex
        )
        primvar.Set(Vt.Vec2fArray.FromNumpy(st))
    return mesh


def _material(stage: Any, path: str, part: Part) -> Any:
    from pxr import Gf, Sdf, UsdShade

    material = UsdShade.Material.Define(stage, path)
    surface = UsdShade.Shader.Define(stage, f"{path}/Surface")
    surface.CreateIdAttr("UsdPreviewSurface")
    surface.CreateInput("metallic", Sdf.ValueTypeNames.Float).Set(0.0)
    surface.CreateInput("roughness", Sdf.ValueTypeNames.Float).Set(part.material.roughness)
    colour = surface.CreateInput("diffuseColor", Sdf.ValueTypeNames.Color3f)
    if part.material.textured:
        reader = UsdShade.Shader.Define(stage, f"{path}/StReader")
        reader.CreateIdAttr("UsdPrimvarReader_float2")
        reader.CreateInput("varname", Sdf.ValueTypeNames.String).Set("st")
        texture = UsdShade.Shader.Define(stage, f"{path}/Design")
        texture.CreateIdAttr("UsdUVTexture")
        texture.CreateInput("file", Sdf.ValueTypeNames.Asset).Set(TEXTURE_NAME)
        texture.CreateInput("sourceColorSpace", Sdf.ValueTypeNames.Token).Set("sRGB")
        for wrap in ("wrapS", "wrapT"):
            texture.CreateInput(wrap, Sdf.ValueTypeNames.Token).Set("clamp")
        texture.CreateInput("st", Sdf.ValueTypeNames.Float2).ConnectToSource(
            reader.ConnectableAPI(), "result"
        )
        rgb = texture.CreateOutput("rgb", Sdf.ValueTypeNames.Float3)
        colour.ConnectToSource(rgb)
    else:
        colour.Set(Gf.Vec3f(*part.material.base_colour))
    output = surface.CreateOutput("surface", Sdf.ValueTypeNames.Token)
    material.CreateSurfaceOutput().ConnectToSource(output)
    return material


def _bind(mesh: Any, material: Any) -> None:
    from pxr import UsdShade

    binding = UsdShade.MaterialBindingAPI.Apply(mesh.GetPrim())
    binding.Bind(material)
