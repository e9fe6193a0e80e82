"""Loguru set-up: one line of JSON per event, with an allow-list of fields.

Only the fields named in ALLOWED_FIELDS are written; payloads, results and settings never
are. The standard library's loggers (arq's among them) are routed through the same sink.
"""

from __future__ import annotations

import json
import logging as std_logging
import sys
from typing import Any

from loguru import logger

ALLOWED_FIELDS = frozenset(
    {
        "job_id",
        "function",
        "attempt",
        "outcome",
        "error_code",
        "duration_ms",
        "defer_s",
        "media_id",
        "worker",
        "count",
    }
)


def _json_sink(message: Any) -> None:
    record = message.record
    fields = {k: v for k, v in record["extra"].items() if k in ALLOWED_FIELDS}
    line = {
        "time": record["time"].isoformat(),
        "level": record["level"].name,
        "logger": record["name"],
        "message": record["message"],
        **fields,
    }
    sys.stderr.write(json.dumps(line, default=str) + "\n")


class _InterceptHandler(std_logging.Handler):
    def emit(self, record: std_logging.LogRecord) -> None:
        level: str | int
        try:
            level = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        name = record.name

        def rename(r: Any) -> None:
            r["name"] = name

        logger.patch(rename).opt(exception=record.exc_info).log(level, record.getMessage())


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    logger.remove()
    if fmt == "json":
        logger.add(_json_sink, level=level)
    else:
        logger.add(
            sys.stderr,
            level=level,
            format="{time:HH:mm:ss} {level: <7} {message} {extra}",
            filter=lambda r: _keep_allowed(r),
        )
    std_logging.basicConfig(handlers=[_InterceptHandler()], level=level, force=True)
    std_logging.getLogger("pyvips").setLevel(std_logging.WARNING)
    # arq logs every job with its arguments; ours logs an allow-list instead.
    arq_worker = std_logging.getLogger("arq.worker")
    arq_worker.setLevel(std_logging.WARNING)
    arq_worker.addFilter(_not_reported_by_us)
    std_logging.getLogger("arq.jobs").setLevel(std_logging.WARNING)


def _not_reported_by_us(record: std_logging.LogRecord) -> bool:
    """Drop arq's traceback of a job that failed for good: the wrapper logged its code."""
    from mediaworker.errors import JobFailedError

    return not (record.exc_info and isinstance(record.exc_info[1], JobFailedError))


def _keep_allowed(record: Any) -> bool:
    extra = record["extra"]
    for key in [k for k in extra if k not in ALLOWED_FIELDS]:
        del extra[key]
    return True
