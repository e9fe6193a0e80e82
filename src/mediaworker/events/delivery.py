"""One delivery try of a webhook event: a signed POST with short timeouts, its answer mapped.

| answer                                  | outcome                                         |
|-----------------------------------------|-------------------------------------------------|
| 2xx                                     | delivered                                       |
| 5xx, 408, or no answer in time          | PROVIDER_DOWN / TIMEOUT: retried with backoff   |
| 429                                     | RATE_LIMIT, honouring Retry-After               |
| connection refused or reset, DNS error  | NETWORK: retried                                |
| 3xx (redirects are not followed), 4xx   | BAD_INPUT: the receiver refuses it, not retried |
| a refused target (events/targets.py)    | BAD_INPUT, before anything is sent              |

The try is bounded by WEBHOOK_CONNECT_TIMEOUT_S and WEBHOOK_TIMEOUT_S, and it is a job of its
own (deliver_webhook), so a target that never answers holds one delivery slot for at most that
long and never the job whose end it reports. The answer's body is not read.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from mediaworker import metrics
from mediaworker.config import WebhookConfig
from mediaworker.errors import (
    BadInputError,
    NetworkError,
    ProviderDownError,
    RateLimitError,
    TimeoutExceededError,
    map_error,
)
from mediaworker.events import targets

USER_AGENT = "mediaworker-webhooks/1"


@dataclass(frozen=True)
class Tried:
    """One try: the answer's status if there was one, and the error if it was no 2xx."""

    status: int | None
    error: Exception | None


async def attempt(url: str, body: str, headers: dict[str, str], config: WebhookConfig) -> Tried:
    """`post()` and `Answer.check()`, counted in the metrics by outcome; never raises."""
    answer: Answer | None = None
    try:
        answer = await post(url, body, headers, config)
        answer.check()
    except Exception as exc:
        code = map_error(exc).code.value
        metrics.WEBHOOK_DELIVERIES.labels(code).inc()
        return Tried(None if answer is None else answer.status, exc)
    metrics.WEBHOOK_DELIVERIES.labels("delivered").inc()
    return Tried(answer.status, None)


@dataclass(frozen=True)
class Answer:
    status: int
    retry_after: str | None = None

    def check(self) -> None:
        """Nothing for a 2xx; else the error the table above gives the status."""
        status = self.status
        if 200 <= status < 300:
            return
        if status == 429:
            raise RateLimitError(
                "webhook target answered 429", retry_after_s=_seconds(self.retry_after)
            )
        if status >= 500 or status == 408:
            raise ProviderDownError(f"webhook target answered {status}")
        raise BadInputError(f"webhook target answered {status}: it refuses the event")


class GuardedResolver(AbstractResolver):
    """aiohttp's resolver, refusing a host if any address it resolves to is not global."""

    def __init__(self) -> None:
        self._resolver = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            found = await self._resolver.resolve(host, port, family)
        except OSError as exc:
            raise OSError(f"cannot resolve webhook host {host[:60]}") from exc
        for entry in found:
            targets.refuse_unless_global(ipaddress.ip_address(entry["host"]), host)
        return found

    async def close(self) -> None:
        await self._resolver.close()


def _resolver(*, allow_private: bool) -> AbstractResolver:
    """The resolver for a delivery's connector: guarded unless private targets are allowed."""
    return DefaultResolver() if allow_private else GuardedResolver()


async def post(url: str, body: str, headers: dict[str, str], config: WebhookConfig) -> Answer:
    """POST `body` to `url`: the answer, or an error if there was none (see the table)."""
    targets.check_url(url, allow_private=config.allow_private)
    connector = aiohttp.TCPConnector(
        resolver=_resolver(allow_private=config.allow_private),
        limit=1,
        force_close=True,
    )
    timeout = aiohttp.ClientTimeout(total=config.timeout_s, sock_connect=config.connect_timeout_s)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False, skip_auto_headers=["User-Agent"]
    ) as session:
        try:
            async with session.post(
                url,
                data=body.encode(),
                headers={**headers, "user-agent": USER_AGENT},
                allow_redirects=False,
            ) as answer:
                return Answer(answer.status, answer.headers.get("retry-after"))
        except TimeoutError:
            raise TimeoutExceededError(
                f"webhook target gave no answer within {config.timeout_s:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise NetworkError(f"webhook target unreachable: {type(exc).__name__}") from None


def _seconds(value: str | None) -> float | None:
    try:
        return min(max(float(value), 0.0), 3600.0) if value else None
    except ValueError:
        return None
