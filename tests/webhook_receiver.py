"""A real webhook receiver on loopback: answers from a script, verifies every signature with
the `standardwebhooks` package, and keeps what it got."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from standardwebhooks import Webhook

from mediaworker.config import WebhookConfig

SECRET = "whsec_" + base64.b64encode(b"mediaworker-test-webhook-secret!").decode()


def hook_config(**env: object) -> WebhookConfig:
    """Webhook settings signing with SECRET, private targets allowed (the receiver is on
    loopback), and `env` on top."""
    return WebhookConfig(**{"WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_PRIVATE": True, **env})


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    event: Any  # the verified, parsed event; None if the signature did not verify
    error: str | None  # why it did not verify
    answered: int


class Receiver:
    """`async with Receiver([500, 200]) as hook:` answers 500, then 200 from then on.
    An answer of 0 means: say nothing for `stall_s` (a target that does not answer)."""

    def __init__(
        self, answers: Iterable[int] = (200,), *, secret: str = SECRET, stall_s: float = 30
    ) -> None:
        self.answers = list(answers)
        self.secret = secret
        self.stall_s = stall_s
        self.received: list[Received] = []
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def verified(self) -> list[Received]:
        return [r for r in self.received if r.event is not None]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        headers = dict(request.headers)
        status = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        try:
            event, error = Webhook(self.secret).verify(body, headers), None
        except Exception as exc:
            event, error = None, f"{type(exc).__name__}: {exc}"
        self.received.append(Received(headers, body, event, error, status))
        if status == 0:
            await asyncio.sleep(self.stall_s)
            status = 200
        return web.Response(status=status, text="ok")
