"""The operator's dashboard at /dashboard, on the API's server: server-rendered (Jinja2)
pages whose sections refresh themselves with htmx (vendored in web/static, no Node at run
time). Admin token required (session.py); POSTs checked against cross-site requests.

    pages.py    overview (counts, running, failed, workers), job, media, AI costs, search
    ar.py       the AR preview of a media row's exported products (model-viewer)
    actions.py  retry, retry all failed, cancel (queue/admin.py)
    login.py    login form, logout, static files
    reads.py    what the pages show, read through db/ and queue/ as the CLI and API do
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mediaworker.web.dashboard import actions, ar, login, pages
from mediaworker.web.dashboard.session import LoginRequired

PREFIX = "/dashboard"
SECURITY_HEADERS = {
    # our own files only: no inline script, no other site, never framed (clickjacking)
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


async def _to_login(request: Request, exc: Exception) -> Response:
    if request.headers.get("hx-request") == "true":  # a fragment: the whole page goes
        return Response(status_code=401, headers={"HX-Redirect": f"{PREFIX}/login"})
    return RedirectResponse(f"{PREFIX}/login", status_code=303)


class SecurityHeaders:
    """Pure ASGI (the API's requests pass through untouched, at the cost of one prefix test):
    the headers above on every /dashboard answer, and `no-store` unless it set a cache rule.
    A page that sets its own Content-Security-Policy keeps it (ar.py: model-viewer's)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    if name != "Content-Security-Policy" or name not in headers:
                        headers[name] = value
                if "cache-control" not in headers:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install(app: FastAPI) -> None:
    """Mount the dashboard on the API's app."""
    for module in (login, actions, ar, pages):
        app.include_router(module.router)
    app.add_exception_handler(LoginRequired, _to_login)
    app.add_middleware(SecurityHeaders)
