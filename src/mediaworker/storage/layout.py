"""The storage key layout: where an original, a derivative, an enhanced copy and a speech clip
live, and the derivative types with their fixed formats. Every key is built from validated ids
and extensions, so it cannot leave its root.
"""

from __future__ import annotations

import re
from enum import StrEnum

from mediaworker.errors import BadInputError
from mediaworker.ids import validate_hex, validate_id

_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


class DerivativeType(StrEnum):
    THUMBNAIL = "THUMBNAIL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"
    WAVEFORM_JSON = "WAVEFORM_JSON"  # audiowaveform JSON, version 2 (peaks.js, waveform-data.js)
    WAVEFORM_DAT = "WAVEFORM_DAT"  # audiowaveform binary .dat, version 2
    WAVEFORM_SVG = "WAVEFORM_SVG"
    WAVEFORM_PNG = "WAVEFORM_PNG"
    PREVIEW = "PREVIEW"  # H.264 + AAC MP4, the first seconds of a video
    UPSCALED = "UPSCALED"  # the original enlarged 2x or 4x (upscale_image), IMAGE_FORMAT
    # export_ar: per product, so a poster and a mug of one design are both kept
    GLB_POSTER = "GLB_POSTER"  # binary glTF 2.0
    USDZ_POSTER = "USDZ_POSTER"
    AR_POSTER_POSTER = "AR_POSTER_POSTER"  # a PNG still of the model (link previews)
    GLB_MUG = "GLB_MUG"
    USDZ_MUG = "USDZ_MUG"
    AR_POSTER_MUG = "AR_POSTER_MUG"


# Content type and file extension of the derivatives whose format is fixed (the image sizes
# follow IMAGE_FORMAT).
DERIVATIVE_FORMATS: dict[DerivativeType, tuple[str, str]] = {
    DerivativeType.WAVEFORM_JSON: ("application/json", "json"),
    DerivativeType.WAVEFORM_DAT: ("application/octet-stream", "dat"),
    DerivativeType.WAVEFORM_SVG: ("image/svg+xml", "svg"),
    DerivativeType.WAVEFORM_PNG: ("image/png", "png"),
    DerivativeType.PREVIEW: ("video/mp4", "mp4"),
}
AR_FORMATS = {  # export_ar's outputs: (derivative type prefix, content type, extension)
    "glb": ("GLB", "model/gltf-binary", "glb"),
    "usdz": ("USDZ", "model/vnd.usdz+zip", "usdz"),
    "still": ("AR_POSTER", "image/png", "png"),
}


def ar_derivative_type(output: str, product: str) -> DerivativeType:
    """`GLB_MUG` for ("glb", "mug"); a KeyError or ValueError for anything else."""
    return DerivativeType(f"{AR_FORMATS[output][0]}_{product.upper()}")


def original_key(media_id: str, ext: str) -> str:
    return f"media/{validate_id(media_id)}/{media_id}-original.{_ext(ext)}"


def derivative_key(media_id: str, derivative: str, ext: str) -> str:
    """`media/{media_id}/{media_id}-{type}.{ext}`, the type in lower case."""
    kind = validate_id(derivative.lower(), what="derivative type")
    return f"media/{validate_id(media_id)}/{media_id}-{kind}.{_ext(ext)}"


def enhanced_media_id(media_id: str) -> str:
    """The id of the enhanced copy's media row: `{media_id}-enhanced`."""
    return validate_id(f"{validate_id(media_id)}-enhanced", what="enhanced media id")


def enhanced_key(media_id: str, ext: str = "jpg") -> str:
    """`media/{media_id}/{media_id}-enhanced.jpg`, beside the original it was made from."""
    return f"media/{validate_id(media_id)}/{media_id}-enhanced.{_ext(ext)}"


def speech_key(audio_hash: str, ext: str) -> str:
    """`speech/{aa}/{hash}.{ext}`: the hash of provider, model, voice, format and text."""
    digest = validate_hex(audio_hash)
    return f"speech/{digest[:2]}/{digest}.{_ext(ext)}"


def _ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    if not _EXT_RE.fullmatch(ext):
        raise BadInputError(f"file extension {ext[:12]!r} is not valid")
    return ext
