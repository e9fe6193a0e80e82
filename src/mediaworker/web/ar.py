"""The AR preview page of an exported product: Google's <model-viewer> showing the GLB, with
its AR button (WebXR, Android Scene Viewer) and the USDZ as `ios-src` (iOS AR Quick Look).

`ar_page(ArPage(...))` returns the whole HTML document for URLs the caller chooses: the web
app mounts `STATIC_DIR` and passes the storage URLs of the derivatives (`page_for` picks them
from a media row's derivatives). Every value is HTML-escaped; no user text reaches the page
unescaped. The page needs one file besides the model: the vendored `model-viewer.min.js`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from string import Template

from mediaworker.payloads import Derivative

__all__ = ["MODEL_VIEWER_JS", "STATIC_DIR", "ArPage", "ar_page", "page_for"]

STATIC_DIR = Path(__file__).resolve().parent / "static"
MODEL_VIEWER_JS = "model-viewer.min.js"
PLACEMENT = {"poster": "wall", "mug": "floor"}  # where AR puts the product

_PAGE = Template("""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<meta property="og:title" content="$title">
<meta property="og:image" content="$poster_url">
<script type="module" src="$script_url"></script>
<style>
  body { margin: 0; font-family: system-ui, sans-serif; background: #f4f4f4; }
  model-viewer { width: 100%; height: 100vh; --poster-color: transparent; }
  .ar-button { position: absolute; bottom: 16px; right: 16px; padding: 10px 16px;
    border: 0; border-radius: 20px; background: #fff; box-shadow: 0 1px 4px #0004; }
</style>
</head>
<body>
<model-viewer id="product" src="$glb_url" ios-src="$usdz_url" poster="$poster_url"
  alt="$title" ar ar-modes="webxr scene-viewer quick-look" ar-placement="$placement"
  ar-scale="fixed" camera-controls touch-action="pan-y" shadow-intensity="1">
  <button slot="ar-button" class="ar-button">View in your space</button>
</model-viewer>
</body>
</html>
""")


@dataclass(frozen=True)
class ArPage:
    product: str  # "poster" | "mug"
    glb_url: str
    usdz_url: str
    poster_url: str  # the PNG still, shown until the model is drawn
    script_url: str  # where STATIC_DIR / MODEL_VIEWER_JS is served
    title: str = "AR preview"


def ar_page(page: ArPage) -> str:
    """The HTML document of the preview; `ar-scale="fixed"`: the product at its real size."""
    values = {
        "title": page.title,
        "glb_url": page.glb_url,
        "usdz_url": page.usdz_url,
        "poster_url": page.poster_url,
        "script_url": page.script_url,
        "placement": PLACEMENT.get(page.product, "floor"),
    }
    return _PAGE.substitute({name: html.escape(value) for name, value in values.items()})


def page_for(
    product: str, derivatives: list[Derivative], script_url: str, title: str = "AR preview"
) -> ArPage | None:
    """The page of `product` from a media row's derivatives; None until all three exist."""
    suffix = product.upper()
    urls = {d.type: d.url for d in derivatives}
    wanted = [f"GLB_{suffix}", f"USDZ_{suffix}", f"AR_POSTER_{suffix}"]
    if not all(name in urls for name in wanted):
        return None
    glb, usdz, still = (urls[name] for name in wanted)
    return ArPage(product, glb, usdz, still, script_url, title)
