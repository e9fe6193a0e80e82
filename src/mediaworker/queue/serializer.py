"""msgpack for every job, result and payload in Redis; never pickle.

A pickled job (arq's default) does not decode as msgpack, so arq fails it at once and runs
nothing. Results that hold an exception are stored as `{"code": ..., "message": ...}`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgpack

from mediaworker.errors import map_error

MAX_PAYLOAD_BYTES = 1024 * 1024


def _default(value: Any) -> Any:
    if isinstance(value, BaseException):
        return map_error(value).as_dict()
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def serialize(data: dict[str, Any]) -> bytes:
    return msgpack.packb(data, default=_default, use_bin_type=True)


def deserialize(raw: bytes) -> dict[str, Any]:
    if len(raw) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload of {len(raw)} bytes is over {MAX_PAYLOAD_BYTES}")
    value = msgpack.unpackb(raw, raw=False, strict_map_key=True, timestamp=0)
    if not isinstance(value, dict):
        raise ValueError("payload is not a msgpack map")
    return value
