"""The login form (an admin token in, a session cookie out), logout, and the static files
(the vendored htmx and our stylesheet: public, as the login form needs the stylesheet)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from mediaworker.config import ApiConfig
from mediaworker.errors import NotFoundError
from mediaworker.web.dashboard.pages import WEB_DIR, templates
from mediaworker.web.dashboard.session import (
    COOKIE,
    SESSION_MAX_AGE_S,
    FromPage,
    LoginRequired,
    admin_token,
    check_same_origin,
    session_value,
)

router = APIRouter(prefix="/dashboard", include_in_schema=False)
STATIC = {  # name -> media type: the only files served
    "htmx.min.js": "text/javascript",
    "dashboard.css": "text/css",
    "model-viewer.min.js": "text/javascript",  # the AR preview (ar.py)
}


@router.get("/login")
async def login_form(request: Request) -> Response:
    return templates.TemplateResponse(request, "dashboard/login.html", {"refused": False})


@router.post("/login")
async def login(request: Request, token: Annotated[str, Form(max_length=500)] = "") -> Response:
    check_same_origin(request)
    config: ApiConfig = request.app.state.settings.api
    try:
        found = admin_token(config, token)
    except LoginRequired:
        return templates.TemplateResponse(
            request, "dashboard/login.html", {"refused": True}, status_code=401
        )
    answer = RedirectResponse("/dashboard", status_code=303)
    answer.set_cookie(
        COOKIE,
        session_value(found),
        max_age=SESSION_MAX_AGE_S,
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return answer


@router.post("/logout")
async def logout(_operator: FromPage) -> Response:
    answer = RedirectResponse("/dashboard/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/dashboard", httponly=True, samesite="strict")
    return answer


@router.get("/static/{name}")
async def static(name: str) -> Response:
    media_type = STATIC.get(name)
    if media_type is None:
        raise NotFoundError(f"no static file {name[:50]!r}")
    return FileResponse(
        WEB_DIR / "static" / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600"},
    )
