"""`mediaworker serve`: the API on uvicorn (uvloop and httptools when installed).

Several worker processes (`--workers`) share the port; each builds its app from the
environment with `create_app()`, so the settings are read in each process.
"""

from __future__ import annotations

import uvicorn

from mediaworker.config import Settings

APP_FACTORY = "mediaworker.web.app:create_app"


def serve(
    settings: Settings, *, host: str | None = None, port: int | None = None, workers: int = 1
) -> None:
    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=host or settings.api.host,
        port=settings.api.port if port is None else port,
        workers=workers,
        loop="auto",
        http="auto",
        access_log=False,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        server_header=False,
        timeout_keep_alive=30,
        limit_concurrency=2048,
    )
