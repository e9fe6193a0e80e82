"""A photo made ready for analysis: pure and synchronous, a path in, a small JPEG out.

`prepare_for_analysis` runs the steps of `decode.py` and `image.py` (`load_upright`) with its
limits, in order:

1. check_file_size  against `max_input_bytes`; an empty file is refused
2. read_header      format, size, orientation; no pixel decoded
3. check_pixels     against `max_pixels`
4. decode_once      shrunk on load to fit `max_side` (JPEG DCT scaling), so a 12 MP JPEG is
                    never decoded at full size
5. autorotate       upright, as a person sees it
6. to_srgb          sRGB, 8 bits
7. flatten_alpha    onto white
8. encode           baseline JPEG, metadata stripped (no GPS leaves the machine)

The long side is at most `max_side` (1568 px by default, the largest a vision model takes
without scaling it down itself): that bounds the tokens, and so the cost, of every call.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing.decode import ImageLimits, read_header
from mediaworker.processing.image import load_upright

MAX_SIDE = 1568
JPEG_QUALITY = 85


@dataclass(frozen=True)
class Prepared:
    data: bytes
    width: int
    height: int
    sha256: str
    source_width: int  # upright
    source_height: int
    content_type: str = "image/jpeg"


def prepare_for_analysis(
    path: str, limits: ImageLimits, *, max_side: int = MAX_SIDE, quality: int = JPEG_QUALITY
) -> Prepared:
    width, height = read_header(path).upright
    try:
        image = load_upright(path, limits, (max_side, max_side))
        data = bytes(image.jpegsave_buffer(Q=quality, keep="none"))
    except pyvips.Error as exc:
        raise BadInputError("cannot prepare this image for analysis") from exc
    digest = hashlib.sha256(data).hexdigest()
    return Prepared(data, int(image.width), int(image.height), digest, width, height)
