"""Media: upload a file (streamed to storage, size-limited), then read its state and outputs.

`POST /v1/media` stores the original, writes the media row (of `project_id` when given) and
enqueues `process_upload`, which decides what the file needs (thumbnails; waveform, preview,
poster frame; transcript); with `analyze=true`, an image's `analyze_photo` too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, ConfigDict

from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.errors import NotFoundError
from mediaworker.ids import ID_PATTERN
from mediaworker.ingest import store_upload
from mediaworker.payloads import Derivative
from mediaworker.web.auth import Producer
from mediaworker.web.schemas import ErrorView, JobView
from mediaworker.web.services import ServicesDep
from mediaworker.web.upload import receive_upload

router = APIRouter(prefix="/v1/media", tags=["media"])
MediaId = Annotated[str, Path(pattern=ID_PATTERN)]
CATEGORY_MAX_CHARS = 32


class MediaView(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    kind: str
    status: str = "PENDING"
    original_filename: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None
    category: str | None = None
    project_id: str | None = None
    facts: dict[str, Any] = {}
    derivatives: list[Derivative] = []
    error: ErrorView | None = None
    created_at: dt.datetime
    updated_at: dt.datetime
    processed_at: dt.datetime | None = None


class UploadAccepted(BaseModel):
    media_id: str
    job: JobView


FACTS = (
    "width", "height", "blurhash", "duration_s", "sample_rate", "channels", "container",
    "video_codec", "audio_codec", "rotation", "frame_rate", "has_audio", "has_video",
)  # fmt: skip


@router.post(
    "",
    dependencies=[Producer],
    status_code=status.HTTP_202_ACCEPTED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "category": {"type": "string", "maxLength": CATEGORY_MAX_CHARS},
                            "project_id": {"type": "string", "pattern": ID_PATTERN},
                            "analyze": {
                                "type": "boolean",
                                "description": "An image's analyze_photo too (issue 8)",
                            },
                        },
                    }
                }
            },
        }
    },
)
async def upload_media(request: Request, services: ServicesDep) -> UploadAccepted:
    async with receive_upload(request) as upload:
        category = upload.fields.get("category") or None
        if category is not None and len(category) > CATEGORY_MAX_CHARS:
            category = category[:CATEGORY_MAX_CHARS]
        media_id = uuid.uuid4().hex
        stored = await store_upload(
            services.db,
            services.storage,
            services.redis,
            upload.path,
            media_id=media_id,
            filename=upload.filename,
            category=category,
            project_id=upload.fields.get("project_id") or None,
            analyze=upload.fields.get("analyze", "").lower() in ("true", "1", "yes"),
        )
    return UploadAccepted(media_id=media_id, job=JobView.of(stored.job))


@router.get(
    "/{media_id}", dependencies=[Producer], responses={404: {"description": "No such media"}}
)
async def get_media(services: ServicesDep, media_id: MediaId) -> MediaView:
    media = await media_db.get(services.db, media_id)
    if media is None:
        raise NotFoundError(f"no media {media_id!r}")
    derivatives = await derivatives_db.list_for(services.db, media_id)
    error = None
    if media.error_code is not None:
        error = ErrorView(code=media.error_code, message=media.error_message or "")
    facts = {k: getattr(media, k) for k in FACTS if getattr(media, k) is not None}
    return MediaView.model_validate(
        {**asdict(media), "facts": facts, "derivatives": derivatives, "error": error}
    )
