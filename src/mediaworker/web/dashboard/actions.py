"""The dashboard's POSTs: retry a failed job, retry every failed job, cancel a job; through
queue/admin.py, as the API and the CLI do. Each needs an admin and the page's CSRF token
(session.py `FromPage`).

An htmx request gets a one-line message for the page's flash area and an `HX-Trigger:
jobs-changed` header, on which the page's sections refresh at once; a plain form POST (no
JavaScript) is sent back to the page it came from.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape

from mediaworker.errors import NotFoundError
from mediaworker.queue import admin
from mediaworker.web.dashboard.pages import JobId
from mediaworker.web.dashboard.session import FromPage
from mediaworker.web.services import ServicesDep

router = APIRouter(prefix="/dashboard", include_in_schema=False)
CHANGED = "jobs-changed"


def _answer(request: Request, message: str, *, ok: bool, back_to: str | None) -> Response:
    if request.headers.get("hx-request") == "true":
        css = "flash ok" if ok else "flash refused"
        html = f'<p class="{css}" role="status">{escape(message)}</p>'
        return HTMLResponse(html, headers={"HX-Trigger": CHANGED})
    target = back_to if back_to and back_to.startswith("/dashboard") else "/dashboard"
    return RedirectResponse(target, status_code=303)


Next = Annotated[str | None, Form(alias="next", max_length=300)]


ACTIONS = {  # verb -> what it does and what it says when done
    "retry": (admin.retry, "queued again"),
    "cancel": (admin.cancel, "cancelled"),
}


@router.post("/jobs/{job_id}/{verb}")
async def act_on_job(
    request: Request,
    services: ServicesDep,
    _operator: FromPage,
    job_id: JobId,
    verb: Annotated[str, Path(pattern="^(retry|cancel)$")],
    next_: Next = None,
) -> Response:
    action, done = ACTIONS[verb]
    try:
        job = await action(services.db, services.redis, job_id)
    except (admin.StateConflictError, NotFoundError) as exc:
        return _answer(request, str(exc), ok=False, back_to=next_)
    return _answer(request, f"{job.job_id} {done}", ok=True, back_to=next_)


@router.post("/retry-failed")
async def retry_failed(
    request: Request, services: ServicesDep, _operator: FromPage, next_: Next = None
) -> Response:
    done = await admin.retry_failed(services.db, services.redis)
    message = f"{len(done.retried)} failed job(s) queued again"
    if done.skipped:
        message += f", {len(done.skipped)} no longer failed"
    return _answer(request, message, ok=True, back_to=next_)
