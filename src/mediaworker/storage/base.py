"""The storage Protocol every backend implements, and the key rules they all enforce.

A storage key is a relative, slash-separated path made of `[A-Za-z0-9._-]` segments (the
layout lives in storage/layout.py). Backends call `check_key()` first on every operation, so
a hostile key fails with BAD_INPUT before it reaches a path or a request, whatever the backend.

Errors at the boundary: a missing key raises `NotFoundError`; an invalid key
`BadInputError`; credentials, access or a missing bucket `NotConfiguredError`; connection
errors, timeouts, throttling, 5xx and disk errors `StorageError` (retried).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from mediaworker.errors import BadInputError

MAX_KEY_CHARS = 512
MAX_CONTENT_TYPE_CHARS = 255

_SEGMENT = r"[A-Za-z0-9._-]+"
_KEY_RE = re.compile(rf"{_SEGMENT}(?:/{_SEGMENT})*")
_CONTENT_TYPE_RE = re.compile(r"[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(?: *;[ -~]*)?")


@dataclass(frozen=True)
class StoredObject:
    key: str
    size_bytes: int
    content_type: str
    url: str


class Storage(Protocol):
    """Where originals and derivatives live. Every method validates its key first."""

    name: str  # "local" | "s3"

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredObject:
        """Store `data` under `key`, replacing any previous object atomically."""
        ...

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        """Store a local file, streamed (S3: multipart above the configured threshold)."""
        ...

    async def get(self, key: str) -> bytes:
        """The whole object; `NotFoundError` when it does not exist."""
        ...

    async def download(self, key: str, dest: Path, *, max_bytes: int | None = None) -> int:
        """Stream the object to `dest` (replaced only when complete); the bytes written. An
        object over `max_bytes` is refused (`check_size`) before its bytes are read."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove the object; deleting a missing key is not an error."""
        ...

    def url(self, key: str) -> str:
        """A stable (not presigned) URL for the object."""
        ...

    async def close(self) -> None: ...


def check_key(key: str) -> str:
    """Return `key` if it is a safe storage key, else raise `BadInputError`.

    Relative, `/`-separated segments of `[A-Za-z0-9._-]`, no empty, `.` or `..` segment, at
    most MAX_KEY_CHARS characters. This refuses absolute paths, traversal, backslashes and NUL.
    """
    if not isinstance(key, str) or not key:
        raise BadInputError("storage key is empty")
    if len(key) > MAX_KEY_CHARS:
        raise BadInputError(f"storage key is longer than {MAX_KEY_CHARS} characters")
    if not _KEY_RE.fullmatch(key) or any(part in (".", "..") for part in key.split("/")):
        raise BadInputError(
            f"storage key {shown_key(key)} is not valid: use relative '/'-separated segments "
            "of letters, digits, '.', '_' or '-', without '.' or '..' segments"
        )
    return key


def check_content_type(content_type: str) -> str:
    """Return `content_type` if it looks like a MIME type (`type/subtype[; params]`)."""
    if (
        not isinstance(content_type, str)
        or len(content_type) > MAX_CONTENT_TYPE_CHARS
        or not _CONTENT_TYPE_RE.fullmatch(content_type)
    ):
        raise BadInputError(f"content type {repr(content_type)[:40]} is not valid")
    return content_type


def shown_key(key: str) -> str:
    """A key short enough to quote in an error message."""
    return repr(key) if len(key) <= 80 else repr(key[:77] + "...")


def check_size(size_bytes: int, max_bytes: int | None) -> None:
    """BadInputError when an object of `size_bytes` is over `max_bytes` (None: no limit)."""
    if max_bytes is not None and size_bytes > max_bytes:
        raise BadInputError(
            f"file is {size_bytes / 2**20:.1f} MiB, over the {max_bytes / 2**20:.1f} MiB limit"
        )
