"""Provider failures mapped to our errors, the same way for every adapter.

| what happened                              | error                | code           | retried |
|--------------------------------------------|----------------------|----------------|---------|
| 429                                        | RateLimitError       | RATE_LIMIT     | yes (1) |
| 5xx, Anthropic's 529 overload              | ProviderDownError    | PROVIDER_DOWN  | yes     |
| a malformed answer (broken JSON, no image) | ProviderDownError    | PROVIDER_DOWN  | yes     |
| a reply that breaks the requested schema   | InvalidReplyError    | PROVIDER_DOWN  | yes (2) |
| 408, a timeout                             | TimeoutExceededError | TIMEOUT        | yes     |
| connection refused or reset                | NetworkError         | NETWORK        | yes     |
| other 4xx (400, 404, 413, 422), refusals   | BadInputError        | BAD_INPUT      | no      |
| 401, 403                                   | NotConfiguredError   | NOT_CONFIGURED | no      |

(1) after the provider's Retry-After, when it sends one.
(2) analyze_photo asks once more at once, then the job's retry takes over; the reply is kept.

Messages name the provider and the status, and quote the provider's own message where it helps
(a 400 says what was wrong), at most 200 characters, with the API key masked. A 401 or 403
never quotes the server: a careless one echoes the key it was given.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from mediaworker.errors import (
    BadInputError,
    MediaWorkerError,
    NetworkError,
    NotConfiguredError,
    ProviderDownError,
    RateLimitError,
    TimeoutExceededError,
    safe_message,
)
from mediaworker.providers.base import Usage

MAX_RETRY_AFTER_S = 3600.0


def from_status(
    provider: str,
    status: int,
    body: object,
    *,
    headers: Mapping[str, str],
    secrets: Sequence[str] = (),
) -> MediaWorkerError:
    """The error for an HTTP error answer of `provider`."""
    if status in (401, 403):
        return NotConfiguredError(
            f"{provider} refused the credentials ({status}): check its API key and access"
        )
    said = scrub(body_message(body), secrets)
    if status == 429:
        wait_s = retry_after_s(headers)
        return RateLimitError(f"{provider} rate limit (429): {said}", retry_after_s=wait_s)
    if status == 408:
        return TimeoutExceededError(f"{provider} timed out (408): {said}")
    if status >= 500:
        return ProviderDownError(f"{provider} is unavailable ({status}): {said}")
    if 400 <= status < 500:
        return BadInputError(f"{provider} rejected the request ({status}): {said}")
    return ProviderDownError(f"{provider} answered with status {status}: {said}")


def from_transport(provider: str, exc: BaseException) -> MediaWorkerError | None:
    """The error for a failure below HTTP, or None when `exc` is not one."""
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return timed_out(provider)
    if isinstance(exc, json.JSONDecodeError | UnicodeDecodeError):
        return malformed(provider, "its answer is not valid JSON")
    if isinstance(exc, ConnectionError | OSError):
        return NetworkError(f"cannot reach {provider}: {type(exc).__name__}")
    return None


def timed_out(provider: str) -> TimeoutExceededError:
    return TimeoutExceededError(f"{provider} did not answer in time")


def unreachable(provider: str) -> NetworkError:
    return NetworkError(f"cannot reach {provider}: the connection failed or was reset")


def malformed(provider: str, what: str) -> ProviderDownError:
    return ProviderDownError(f"{provider} answered with something unusable: {what}")


class RefusedError(BadInputError):
    """The provider answered but declined (a content refusal): BAD_INPUT, and the call's
    usage is kept so that the metering still records what it cost."""

    usage: Usage | None = None


def refused(provider: str, reason: str, usage: Usage | None = None) -> RefusedError:
    error = RefusedError(f"{provider} refused the request: {reason}")
    error.usage = usage
    return error


class InvalidReplyError(ProviderDownError):
    """The provider answered, but not with what the schema asked for (not JSON, out of the
    schema, cut at max_tokens). The reply and the usage are kept: it was paid for."""

    usage: Usage | None = None
    raw: str = ""


def invalid_reply(provider: str, reason: str, raw: str, usage: Usage) -> InvalidReplyError:
    error = InvalidReplyError(f"{provider} answered with an invalid analysis: {reason}")
    error.usage, error.raw = usage, raw
    return error


def body_message(body: object) -> str:
    """The human message in an error body: OpenAI's, Anthropic's and Google's shapes."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            message = inner.get("message") or inner.get("type") or ""
            return str(message)
        return str(inner)
    if isinstance(body, str | bytes):
        text = body.decode(errors="replace") if isinstance(body, bytes) else body
        return text[:200]
    return "no details"


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Retry-After as seconds: `retry-after-ms`, `retry-after` in seconds or as an HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = lowered.get(name)
        if value is None:
            continue
        seconds: float | None
        try:
            seconds = float(value) / divisor
        except ValueError:
            seconds = _http_date_s(value)
        if seconds is not None and 0 <= seconds <= MAX_RETRY_AFTER_S:
            return seconds
    return None


def _http_date_s(value: str) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def scrub(text: str, secrets: Sequence[str]) -> str:
    """`text` with every secret masked, one line, at most 200 characters."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[redacted]")
    return safe_message(text)


@asynccontextmanager
async def stainless_boundary(sdk: Any, provider: str, secret: str) -> AsyncIterator[None]:
    """Our errors for what the `openai` or `anthropic` SDK raises (the same exception classes)."""
    try:
        yield
    except MediaWorkerError:
        raise
    except sdk.APIStatusError as exc:
        error = from_status(
            provider, exc.status_code, exc.body, headers=exc.response.headers, secrets=[secret]
        )
        raise error from None
    except sdk.APITimeoutError:
        raise timed_out(provider) from None
    except sdk.APIConnectionError:
        raise unreachable(provider) from None
    except sdk.APIResponseValidationError:
        raise malformed(provider, "its answer does not match the API") from None
    except Exception as exc:
        mapped = from_transport(provider, exc)
        if mapped is None:
            raise
        raise mapped from None
