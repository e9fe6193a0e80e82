"""The dashboard's pages and the fragments they refresh (htmx, `hx-trigger="every 2s"`).

Every page and fragment needs an admin (session.py). A fragment is the same template the
page includes, so what a page shows first and what it refreshes to are rendered alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from mediaworker.errors import NotFoundError
from mediaworker.ids import ID_PATTERN
from mediaworker.web.dashboard import reads
from mediaworker.web.dashboard.session import Authenticated, Operator
from mediaworker.web.schemas import JOB_ID_PATTERN
from mediaworker.web.services import ServicesDep

WEB_DIR = Path(__file__).resolve().parents[1]
templates = Jinja2Templates(directory=WEB_DIR / "templates")
router = APIRouter(prefix="/dashboard", include_in_schema=False)
JobId = Annotated[str, PathParam(pattern=JOB_ID_PATTERN)]
MediaId = Annotated[str, PathParam(pattern=ID_PATTERN)]
KIND_PATTERN = r"^[A-Z0-9_]{1,40}$"
SECTIONS = ("counts", "running", "failed", "workers")


def render(
    request: Request, operator: Operator, name: str, *, status_code: int = 200, **context: Any
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        f"dashboard/{name}.html",
        {"csrf_token": operator.csrf_token, **context},
        status_code=status_code,
    )


def detail_page(
    request: Request, operator: Operator, name: str, detail: object | None, *, what: str
) -> HTMLResponse:
    """Page `name` showing `detail`; the 404 page naming `what` when there is none."""
    if detail is None:
        return render(request, operator, "missing", status_code=404, what=what)
    return render(request, operator, name, detail=detail)


@router.get("")
async def overview(request: Request, services: ServicesDep, operator: Authenticated) -> Response:
    view = await reads.overview(services)
    return render(request, operator, "overview", view=view, states=reads.STATES)


async def _section(services: ServicesDep, name: str) -> dict[str, Any]:
    if name == "counts":
        by_function, totals = await reads.counts(services)
        return {"counts": by_function, "totals": totals, "states": reads.STATES}
    if name == "running":
        return {"running": await reads.running(services)}
    if name == "failed":
        return {"failed": await reads.failed(services)}
    return {"workers": await reads.workers(services)}


@router.get("/fragments/{name}")
async def fragment(
    request: Request,
    services: ServicesDep,
    operator: Authenticated,
    name: Annotated[str, PathParam(pattern="^(" + "|".join(SECTIONS) + ")$")],
) -> Response:
    return render(request, operator, f"_{name}", **await _section(services, name))


@router.get("/ai")
async def ai_costs(
    request: Request,
    services: ServicesDep,
    operator: Authenticated,
    days: Annotated[int, Query(ge=1, le=366)] = 14,
) -> Response:
    rows = await reads.ai_costs(services, days=days)
    return render(request, operator, "ai", rows=rows, days=days)


@router.get("/jobs/{job_id}")
async def job_page(
    request: Request, services: ServicesDep, operator: Authenticated, job_id: JobId
) -> Response:
    detail = await reads.job_detail(services, job_id)
    return detail_page(request, operator, "job", detail, what=f"job {job_id}")


@router.get("/media/{media_id}")
async def media_page(
    request: Request, services: ServicesDep, operator: Authenticated, media_id: MediaId
) -> Response:
    detail = await reads.media_detail(services, media_id)
    return detail_page(request, operator, "media", detail, what=f"media {media_id}")


@router.get("/media/{media_id}/files/{kind}")
async def media_file(
    services: ServicesDep,
    _operator: Authenticated,
    media_id: MediaId,
    kind: Annotated[str, PathParam(pattern=KIND_PATTERN)],
) -> Response:
    """A derivative's bytes from storage (local storage has no URL a browser can open)."""
    found = await reads.derivative(services, media_id, kind)
    if found is None:
        raise NotFoundError(f"media {media_id!r} has no {kind}")
    data = await services.storage.get(found.storage_key)
    return Response(data, media_type=found.content_type, headers={"Cache-Control": "private"})


@router.get("/search")
async def search(
    request: Request,
    services: ServicesDep,
    operator: Authenticated,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    return render(request, operator, "search", found=await reads.search(services, q))
