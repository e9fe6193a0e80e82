"""BlurHash encoder (https://blurha.sh), the standard algorithm in numpy.

Give it a small sRGB image (about 32 pixels a side; the cost grows with the pixel count) as an
array of shape (height, width, 3), values 0-255. Matches the reference encoders bit for bit.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

_BASE83 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~"


def encode(pixels: NDArray[np.uint8], components_x: int = 4, components_y: int = 3) -> str:
    """The BlurHash of `pixels` with `components_x` x `components_y` cosine components."""
    if not (1 <= components_x <= 9 and 1 <= components_y <= 9):
        raise ValueError("component counts must be between 1 and 9")
    if pixels.ndim != 3 or pixels.shape[2] != 3 or pixels.size == 0:
        raise ValueError(f"expected a non-empty (height, width, 3) array, got {pixels.shape}")
    factors = _cosine_factors(_srgb_to_linear(pixels), components_x, components_y)
    dc, ac = factors[0], factors[1:]
    max_ac = float(np.abs(ac).max()) if len(ac) else 0.0
    quantised_max = max(0, min(82, math.floor(max_ac * 166 - 0.5)))
    ac_scale = (quantised_max + 1) / 166
    parts = [
        _base83((components_x - 1) + (components_y - 1) * 9, 1),
        _base83(quantised_max, 1),
        _base83(_encode_dc(dc), 4),
        *(_base83(_encode_ac(component, ac_scale), 2) for component in ac),
    ]
    return "".join(parts)


def _srgb_to_linear(pixels: NDArray[np.uint8]) -> NDArray[np.float64]:
    v = pixels.astype(np.float64) / 255
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _linear_to_srgb(value: float) -> int:
    v = min(max(value, 0.0), 1.0)
    if v <= 0.0031308:
        return int(v * 12.92 * 255 + 0.5)
    return int((1.055 * v ** (1 / 2.4) - 0.055) * 255 + 0.5)


def _cosine_factors(linear: NDArray[np.float64], nx: int, ny: int) -> NDArray[np.float64]:
    """Factor (j, i) for every component, row-major in j, as an (ny * nx, 3) array."""
    height, width = linear.shape[:2]
    basis_x = np.cos(np.pi * np.outer(np.arange(nx), np.arange(width)) / width)
    basis_y = np.cos(np.pi * np.outer(np.arange(ny), np.arange(height)) / height)
    factors = np.einsum("jy,ix,yxc->jic", basis_y, basis_x, linear) / (width * height)
    normalisation = np.full((ny, nx, 1), 2.0)
    normalisation[0, 0, 0] = 1.0
    result: NDArray[np.float64] = (factors * normalisation).reshape(ny * nx, 3)
    return result


def _encode_dc(rgb: NDArray[np.float64]) -> int:
    r, g, b = (_linear_to_srgb(float(c)) for c in rgb)
    return (r << 16) + (g << 8) + b


def _encode_ac(rgb: NDArray[np.float64], scale: float) -> int:
    r, g, b = (_quantise_ac(float(c) / scale) for c in rgb)
    return r * 19 * 19 + g * 19 + b


def _quantise_ac(value: float) -> int:
    signed_sqrt = math.copysign(math.sqrt(abs(value)), value)
    return int(max(0.0, min(18.0, math.floor(signed_sqrt * 9 + 9.5))))


def _base83(value: int, length: int) -> str:
    return "".join(_BASE83[(value // 83 ** (length - i)) % 83] for i in range(1, length + 1))
