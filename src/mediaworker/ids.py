"""Ids and hashes that name things: every id that reaches a Redis key, a storage key or a path
is checked here.

`validate_id()` refuses anything that is not a short run of letters, digits, `-` and `_` (a
UUID passes; `../etc` does not). `request_hash()` names a piece of work by what it is made of.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from mediaworker.errors import BadInputError

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
# A job id: a rule's prefix and an id or hash, or a producer's own id over HTTP.
JOB_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,199}$"
_ID_RE = re.compile(ID_PATTERN)
_JOB_ID_RE = re.compile(JOB_ID_PATTERN)
_HEX_RE = re.compile(r"[0-9a-f]{16,128}")


def validate_id(value: str, *, what: str = "media_id") -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        shown = repr(value)[:40]
        raise BadInputError(f"{what} {shown} is not valid: use 1-128 letters, digits, '-' or '_'")
    return value


def validate_job_id(value: str) -> str:
    if not isinstance(value, str) or not _JOB_ID_RE.fullmatch(value):
        shown = repr(value)[:40]
        raise BadInputError(f"job id {shown} is not valid: use 1-200 letters, digits, '-' or '_'")
    return value


def validate_hex(value: str) -> str:
    """A hash as `request_hash()` makes it: 16-128 lower-case hex digits."""
    if not _HEX_RE.fullmatch(value):
        raise BadInputError("hash is not 16-128 lower-case hex digits")
    return value


def request_hash(*parts: object) -> str:
    """The SHA-256 (hex) of `parts` as JSON: names a piece of work by what it is made of."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_text(text: str) -> str:
    """NFC, whitespace runs as one space, trimmed: the same phrase, however it was typed."""
    return " ".join(unicodedata.normalize("NFC", text).split())
