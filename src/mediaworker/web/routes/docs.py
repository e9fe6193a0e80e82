"""/openapi.json and /docs behind a token (unless API_PUBLIC_DOCS=true): `curl -H
"Authorization: Bearer $TOKEN" .../openapi.json` feeds a client generator."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse

from mediaworker.web.auth import Producer

router = APIRouter(include_in_schema=False, dependencies=[Producer])


@router.get("/openapi.json")
async def openapi(request: Request) -> dict[str, Any]:
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/docs")
async def docs() -> HTMLResponse:
    return get_swagger_ui_html(openapi_url="/openapi.json", title="mediaworker API")
