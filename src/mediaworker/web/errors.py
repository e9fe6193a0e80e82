"""Every error answer has one shape, `{"error": {"code", "message"[, "fields"]}}`, and none
carries a stack trace, a secret or the offending input: validation errors list where and
what (`loc`, `msg`, `type`), never the value; an unexpected exception is a bare 500 whose
details go to the log only. Job errors keep their stable codes (errors.py)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from loguru import logger
from starlette.exceptions import HTTPException

from mediaworker.errors import ErrorCode, MediaWorkerError, map_error, safe_message
from mediaworker.queue.admin import StateConflictError

HTTP_CODES = {
    400: ErrorCode.BAD_INPUT.value,
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: ErrorCode.NOT_FOUND.value,
    405: "METHOD_NOT_ALLOWED",
    409: "CONFLICT",
    413: "TOO_LARGE",
    415: ErrorCode.BAD_INPUT.value,
    422: ErrorCode.BAD_INPUT.value,
    503: "UNAVAILABLE",
}
STATUS_OF_CODE = {
    ErrorCode.BAD_INPUT: 422,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_CONFIGURED: 501,
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": safe_message(message), **extra}}


def fields_of(errors: Any) -> list[dict[str, Any]]:
    """Where and what, never the input value (it may be huge or a secret)."""
    return [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg")), "type": e.get("type")}
        for e in errors
    ]


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        return await _unexpected(request, exc)
    code = HTTP_CODES.get(exc.status_code, "ERROR")
    message = exc.detail if isinstance(exc.detail, str) else code.lower()
    return JSONResponse(error_body(code, message), exc.status_code, headers=exc.headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    fields = fields_of(exc.errors() if isinstance(exc, RequestValidationError) else [])
    where = "; ".join(f"{'.'.join(f['loc'])}: {f['msg']}" for f in fields[:5])
    return JSONResponse(
        error_body(ErrorCode.BAD_INPUT.value, f"invalid request: {where}", fields=fields), 422
    )


async def _job_error(request: Request, exc: Exception) -> JSONResponse:
    error = map_error(exc)
    status = STATUS_OF_CODE.get(error.code, 503 if error.retryable else 400)
    return JSONResponse(error_body(error.code.value, error.message), status)


async def _state_conflict(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse(error_body("CONFLICT", str(exc)), 409)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.bind(path=request.url.path).opt(exception=exc).error(
        f"request failed: {type(exc).__name__}"
    )
    return JSONResponse(error_body(ErrorCode.UNKNOWN.value, "internal error"), 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(MediaWorkerError, _job_error)
    app.add_exception_handler(StateConflictError, _state_conflict)
    app.add_exception_handler(Exception, _unexpected)
