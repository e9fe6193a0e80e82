"""The FastAPI application: `create_app(settings)`.

One router per resource (routes/), the services opened once in the lifespan and kept on
`app.state.services`: the asyncpg pool, the arq Redis pool, the storage backend. Bodies are
limited (limits.py), errors have one shape and no stack trace (errors.py), every route but
/healthz and /readyz needs a bearer token (auth.py), /openapi.json and /docs included unless
API_PUBLIC_DOCS=true.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from mediaworker import registry
from mediaworker.config import Settings
from mediaworker.web import dashboard
from mediaworker.web.errors import install_error_handlers
from mediaworker.web.limits import BodyLimit
from mediaworker.web.routes import docs, enqueue, health, jobs, media, photos, projects, stats
from mediaworker.web.services import open_services

UPLOAD_PATH = "/v1/media"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings) as services:
            app.state.services = services
            yield

    api = settings.api
    app = FastAPI(
        title="mediaworker",
        version="1",
        summary="Enqueue media and AI jobs, poll their state, upload media.",
        lifespan=lifespan,
        openapi_url="/openapi.json" if api.public_docs else None,
        docs_url="/docs" if api.public_docs else None,
        redoc_url=None,
    )
    app.state.settings = settings

    def limit_for(path: str) -> int:
        return api.max_upload_bytes if path == UPLOAD_PATH else api.max_body_bytes

    app.add_middleware(BodyLimit, limit_for=limit_for)
    install_error_handlers(app)
    app.include_router(enqueue.router_for(registry.JOBS.values()))  # the busiest routes first
    for module in (health, stats, jobs, media, photos, projects):
        app.include_router(module.router)
    dashboard.install(app)
    app.include_router(enqueue.unknown_function_router())
    if not api.public_docs:
        app.include_router(docs.router)
    return app
