"""The AR preview page in a real browser: Debian's chromium, headless, driven by playwright
(tests/browser.py, the launcher the dashboard's browser tests use too).

The page, the vendored model-viewer and a GLB we exported are served from 127.0.0.1; every
request elsewhere is refused and recorded, so the page is shown to work offline.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from ar_tools import quadrant_design
from browser import ModelState, chromium, model_state, only_from, watch_model_events
from mediaworker.payloads import Derivative
from mediaworker.processing.ar_export import ArSpec, make_ar_export
from mediaworker.processing.decode import ImageLimits
from mediaworker.web.ar import MODEL_VIEWER_JS, STATIC_DIR, ArPage, ar_page, page_for


class _Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map: ClassVar[dict[str, str]] = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".js": "text/javascript",
        ".glb": "model/gltf-binary",
        ".usdz": "model/vnd.usdz+zip",
    }

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A folder served at http://127.0.0.1:PORT/, with static/ holding the vendored files."""
    (tmp_path / "static").symlink_to(STATIC_DIR)
    handler = functools.partial(_Handler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_the_page_escapes_what_it_is_given() -> None:
    page = ar_page(ArPage("poster", 'a.glb"><script>x()</script>', "a.usdz", "a.png", "mv.js"))
    assert "<script>x()" not in page
    assert 'src="a.glb&quot;&gt;&lt;script&gt;' in page
    assert 'ios-src="a.usdz"' in page and 'ar-placement="wall"' in page


def test_page_for_waits_for_all_three_derivatives() -> None:
    def made(kind: str) -> Derivative:
        return Derivative(
            type=kind, storage_key=kind, url=f"/{kind}", content_type="x", size_bytes=1
        )

    some = [made("GLB_MUG"), made("USDZ_MUG")]
    assert page_for("mug", some, "/mv.js") is None
    page = page_for("mug", [*some, made("AR_POSTER_MUG"), made("GLB_POSTER")], "/mv.js")
    assert page == ArPage("mug", "/GLB_MUG", "/USDZ_MUG", "/AR_POSTER_MUG", "/mv.js")


@dataclass
class Shown:
    state: ModelState
    outside: list[str]  # requests to anywhere but our server (refused)


async def show_in_chromium(base: str, page_path: str) -> Shown:
    """Open the page in headless chromium and wait for model-viewer's first load or error."""
    async with chromium() as browser:
        context = await browser.new_context()
        outside = await only_from(context, base)
        await watch_model_events(context)
        page = await context.new_page()
        await page.goto(f"{base}/{page_path}")
        state = await model_state(page)
    return Shown(state, outside)


def write_page(folder: Path, product: str, glb: bytes) -> str:
    (folder / "model.glb").write_bytes(glb)
    page = ArPage(product, "model.glb", "model.usdz", "still.png", f"static/{MODEL_VIEWER_JS}")
    (folder / "index.html").write_text(ar_page(page))
    return "index.html"


@pytest.mark.slow
@pytest.mark.parametrize(("product", "width_m"), [("poster", 0.6), ("mug", 0.082)])
async def test_model_viewer_loads_the_exported_glb_offline(
    site: tuple[str, Path], product: str, width_m: float
) -> None:
    base, folder = site
    design = quadrant_design(folder / "design.png", 300, 400)
    limits = ImageLimits(max_input_bytes=2**25, max_pixels=10**8)
    spec = ArSpec(product, width_m, still_px=128)  # type: ignore[arg-type]
    exported = make_ar_export(str(design), spec, limits)
    (folder / "model.usdz").write_bytes(exported.usdz)
    (folder / "still.png").write_bytes(exported.still_png)

    shown = await show_in_chromium(base, write_page(folder, product, exported.glb))

    assert [e["name"] for e in shown.state.events] == ["load"], shown.state.events
    assert shown.state.loaded is True
    assert shown.state.size_m == pytest.approx(list(exported.size_m), rel=1e-3)
    assert shown.outside == []


@pytest.mark.slow
async def test_a_broken_glb_gives_model_viewers_error_event(site: tuple[str, Path]) -> None:
    base, folder = site
    shown = await show_in_chromium(base, write_page(folder, "mug", b"glTF" + b"\0" * 40))
    assert [e["name"] for e in shown.state.events] == ["error"], shown.state.events
    assert shown.state.loaded is False
