"""What travels through Redis: one <Job>Payload and <Job>Result model per job.

Payloads carry ids and options, never file contents. Unknown fields are refused, so a typo in
a producer fails at once with BAD_INPUT instead of being ignored. This module imports only
pydantic, so producers can use it without the worker's dependencies.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$"
MediaId = Annotated[str, Field(pattern=ID_PATTERN)]


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ThumbnailsPayload(Payload):
    media_id: MediaId
    force: bool = False


class Derivative(Result):
    type: str
    storage_key: str
    url: str
    content_type: str
    width: int | None = None
    height: int | None = None
    size_bytes: int


class ThumbnailsResult(Result):
    media_id: str
    skipped: bool = Field(description="True when the outputs already existed and force was off")
    width: int
    height: int
    blurhash: str | None
    derivatives: list[Derivative]


class ReconcilePayload(Payload):
    pass


class ReconcileResult(Result):
    requeued: list[str]
