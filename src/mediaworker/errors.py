"""Stable error codes, the two error families, and the one place that maps any exception.

Nothing else in the worker decides whether an error is retried: adapters raise
`PermanentError` or `TransientError` subclasses, processing raises `BadInputError`, and
`map_error()` turns whatever reached the job wrapper into a `MappedError`.
"""

from __future__ import annotations

import asyncio
import random
import re
from dataclasses import dataclass
from enum import StrEnum

MAX_MESSAGE_CHARS = 200


class ErrorCode(StrEnum):
    BAD_INPUT = "BAD_INPUT"
    NOT_FOUND = "NOT_FOUND"
    NOT_CONFIGURED = "NOT_CONFIGURED"
    CONFLICT = "CONFLICT"  # the job may not touch that row: it belongs to an upload or job
    TIMEOUT = "TIMEOUT"
    RATE_LIMIT = "RATE_LIMIT"
    PROVIDER_DOWN = "PROVIDER_DOWN"
    NETWORK = "NETWORK"
    STORAGE = "STORAGE"
    UNKNOWN = "UNKNOWN"


RETRYABLE_CODES = frozenset(
    {
        ErrorCode.TIMEOUT,
        ErrorCode.RATE_LIMIT,
        ErrorCode.PROVIDER_DOWN,
        ErrorCode.NETWORK,
        ErrorCode.STORAGE,
        ErrorCode.UNKNOWN,
    }
)


class MediaWorkerError(Exception):
    """Base of our own errors: a code and a short message, safe to store and show."""

    code: ErrorCode = ErrorCode.UNKNOWN
    throttled: bool = False  # see ThrottledError

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after_s = retry_after_s

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross the CPU process pool; keep the keyword argument through pickling.
        return (_rebuild_error, (type(self), self.message, self.retry_after_s))


def _rebuild_error(
    cls: type[MediaWorkerError], message: str, retry_after_s: float | None
) -> MediaWorkerError:
    return cls(message, retry_after_s=retry_after_s)


class PermanentError(MediaWorkerError):
    """Retrying cannot help: the input, the id or the configuration is wrong."""


class TransientError(MediaWorkerError):
    """The same call may succeed later."""


class BadInputError(PermanentError):
    code = ErrorCode.BAD_INPUT


class NotFoundError(PermanentError):
    code = ErrorCode.NOT_FOUND


class NotConfiguredError(PermanentError):
    code = ErrorCode.NOT_CONFIGURED


class ConflictError(PermanentError):
    """The row the job would write exists and is not the job's own (an upload, another job's
    row): refused, the row and its files left as they are."""

    code = ErrorCode.CONFLICT


class TimeoutExceededError(TransientError):
    code = ErrorCode.TIMEOUT


class RateLimitError(TransientError):
    code = ErrorCode.RATE_LIMIT


class ProviderDownError(TransientError):
    code = ErrorCode.PROVIDER_DOWN


class NetworkError(TransientError):
    code = ErrorCode.NETWORK


class StorageError(TransientError):
    code = ErrorCode.STORAGE


class ThrottledError(TransientError):
    """Our own rate limiter (queue/ratelimit.py) has no slot free before `retry_after_s`.

    Not a failure: the job wrapper defers the job until a slot frees, and the deferral does
    not count as an attempt (the job_runs row is DEFERRED, which `start()` does not count).
    """

    code = ErrorCode.RATE_LIMIT
    throttled = True


@dataclass(frozen=True)
class MappedError:
    code: ErrorCode
    message: str
    retryable: bool
    retry_after_s: float | None = None
    throttled: bool = False  # deferred by our limiter, not an attempt (ThrottledError)

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code.value, "message": self.message}


class JobFailedError(Exception):
    """What the wrapper raises when a job fails for good; arq stores it as the job's result."""

    def __init__(self, error: MappedError) -> None:
        super().__init__(f"{error.code}: {error.message}")
        self.error = error


_SECRET_PATTERNS = (
    re.compile(r"(sk|pk|rk)-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"AIza[A-Za-z0-9_\-]{8,}"),  # Google API keys (Gemini)
    re.compile(r"(?i)(password|passwd|secret|token|api[_-]?key|authorization)=\S+"),
    re.compile(r"://[^/\s:@]*:[^/\s@]+@"),  # user:password@ and :password@ (Redis) in URLs
)


_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def safe_message(text: str) -> str:
    """At most MAX_MESSAGE_CHARS, one line, no control characters (Postgres refuses NUL), with
    anything that looks like a secret masked."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub("[redacted]", text)
    text = " ".join(_CONTROL_CHARS.sub("", text).split())
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    return text or "no message"


def map_error(exc: BaseException) -> MappedError:
    """The single decision: which code an exception gets, and whether it is retried."""
    if isinstance(exc, JobFailedError):
        return exc.error
    if isinstance(exc, MediaWorkerError):
        code = exc.code
        retry_after_s = exc.retry_after_s
        message = exc.message
    else:
        code, message = _map_foreign(exc)
        retry_after_s = None
    return MappedError(
        code=code,
        message=safe_message(message),
        retryable=code in RETRYABLE_CODES,
        retry_after_s=retry_after_s,
        throttled=isinstance(exc, MediaWorkerError) and exc.throttled,
    )


def _map_foreign(exc: BaseException) -> tuple[ErrorCode, str]:
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors()
        )
        return ErrorCode.BAD_INPUT, f"invalid payload: {problems}"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return ErrorCode.TIMEOUT, "timed out"
    if isinstance(exc, ConnectionError):
        return ErrorCode.NETWORK, f"{type(exc).__name__}: {exc}"
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):  # a Postgres error, by asyncpg: never its own text
        return _map_database(type(exc).__name__, sqlstate)
    return ErrorCode.UNKNOWN, f"{type(exc).__name__}: {exc}"


def _map_database(name: str, sqlstate: str) -> tuple[ErrorCode, str]:
    """Postgres errors by SQLSTATE class. The driver's message may quote the data it refused
    (a row's text, a byte sequence), so only the error's name and state are kept."""
    if sqlstate.startswith("22"):  # data exception: the same value is refused every time
        return ErrorCode.BAD_INPUT, f"the database refused a value ({name}, SQLSTATE {sqlstate})"
    if sqlstate.startswith(("08", "53", "57")):  # connection, resources, shutting down
        return ErrorCode.NETWORK, f"the database is not available ({name}, SQLSTATE {sqlstate})"
    return ErrorCode.UNKNOWN, f"database error ({name}, SQLSTATE {sqlstate})"


def backoff_s(
    retry_number: int, *, base_ms: int, factor: float = 4.0, jitter: float = 0.1
) -> float:
    """Deferral before retry number `retry_number` (1-based): base, base*4, base*16, ...

    With the default base of 5000 ms: 5 s, 20 s, 80 s, each moved by up to ±10 % so that jobs
    that failed together do not all come back in the same millisecond.
    """
    delay_s = base_ms / 1000 * factor ** max(retry_number - 1, 0)
    spread = delay_s * jitter
    return max(0.0, delay_s + random.uniform(-spread, spread))  # noqa: S311 - jitter, not security
