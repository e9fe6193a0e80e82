"""What every payload and result is built from, and the shared field types."""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mediaworker.ids import ID_PATTERN

MediaId = Annotated[str, Field(pattern=ID_PATTERN)]
ProjectId = Annotated[str, Field(pattern=ID_PATTERN)]


# A job option a producer may pass beside the payload's fields (no payload has a field of that
# name): where to POST the job's final success or failure (events/webhooks.py).
WEBHOOK_OPTION = "webhook_url"


class Payload(BaseModel):
    """Unknown fields, non-finite numbers (NaN, Infinity) and text with a NUL character are
    refused here, at the boundary: Postgres stores neither in text or jsonb."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        for name, value in self:
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(f"{name} contains a NUL character")
        return self


class MediaRowPayload(Payload):
    """The payload of a job on one media row: the row, and whether to redo what it made."""

    media_id: MediaId
    force: bool = False


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class Derivative(Result):
    type: str
    storage_key: str
    url: str
    content_type: str
    width: int | None = None
    height: int | None = None
    size_bytes: int
