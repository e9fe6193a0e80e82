"""The AR preview of a media row's export_ar products, on the dashboard (web/ar.py's page).

`GET /dashboard/media/{media_id}/ar?product=poster` shows model-viewer with the product's GLB,
USDZ and still, all read through the dashboard's derivative-file route (local storage has no
URL a browser can open; the operator's session cookie goes with each request). 404 until all
three exist. The page has an inline <style>; model-viewer decodes the GLB's texture through a
blob: URL, styles its shadow DOM inline and compiles its bundled meshopt decoder (WebAssembly)
at start, so this page's Content-Security-Policy allows those ('wasm-unsafe-eval' permits
WebAssembly only, not eval) and nothing more than the dashboard's: no inline script, no
JavaScript eval, no other site.
"""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from mediaworker.web.ar import MODEL_VIEWER_JS, ar_page, page_for
from mediaworker.web.dashboard import reads
from mediaworker.web.dashboard.pages import MediaId, render
from mediaworker.web.dashboard.session import Authenticated
from mediaworker.web.services import ServicesDep

router = APIRouter(prefix="/dashboard", include_in_schema=False)
AR_PAGE_CSP = (
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self' 'wasm-unsafe-eval'; connect-src 'self' data: blob:; "
    "worker-src 'self' blob:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def file_url(media_id: str, kind: str) -> str:
    return f"/dashboard/media/{quote(media_id, safe='')}/files/{quote(kind, safe='')}"


@router.get("/media/{media_id}/ar")
async def ar_preview(
    request: Request,
    services: ServicesDep,
    operator: Authenticated,
    media_id: MediaId,
    product: Annotated[Literal["poster", "mug"], Query()] = "poster",
) -> Response:
    detail = await reads.media_detail(services, media_id)
    derivatives = [] if detail is None else detail.derivatives
    served = [d.model_copy(update={"url": file_url(media_id, d.type)}) for d in derivatives]
    name = detail.media.original_filename or media_id if detail else media_id
    title = f"AR preview: {product}, {name}"
    page = page_for(product, served, f"/dashboard/static/{MODEL_VIEWER_JS}", title)
    if page is None:
        what = f"an AR export ({product}) of media {media_id}"
        return render(request, operator, "missing", status_code=404, what=what)
    return HTMLResponse(ar_page(page), headers={"Content-Security-Policy": AR_PAGE_CSP})
