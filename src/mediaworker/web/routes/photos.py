"""Photo analysis (issue 8): enqueue it, then poll its own status.

`POST /v1/photos/{media_id}/analyze` submits `analyze_photo` through the ledger (202; 200 with
the existing job when one with its id is still known, as `POST /v1/jobs/...`). `GET
/v1/photos/{media_id}` is the original deployment's polling shape: `status` PENDING |
PROCESSING | DONE | ERROR, `room_type`, `analysis`, `error_code`, `error_message`,
`processed_at`, apart from the media's own status (a photo can be READY with its thumbnails
and still PROCESSING its analysis). A photo never analysed is PENDING.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Response, status
from pydantic import BaseModel, Field

from mediaworker import registry
from mediaworker.db import media as media_db
from mediaworker.db import photos as photos_db
from mediaworker.errors import BadInputError, NotFoundError
from mediaworker.ids import ID_PATTERN
from mediaworker.payloads import AnalyzePhotoPayload
from mediaworker.photos.analysis import RoomAnalysis, RoomType
from mediaworker.queue.submit import submit_job
from mediaworker.web.auth import Producer
from mediaworker.web.schemas import JobView
from mediaworker.web.services import ServicesDep

router = APIRouter(prefix="/v1/photos", tags=["photos"], dependencies=[Producer])
MediaId = Annotated[str, Path(pattern=ID_PATTERN)]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such media"}}


class AnalyzeRequest(BaseModel):
    room_type: RoomType | None = Field(None, description="Given by the app: kept as a fact")
    force: bool = Field(False, description="Analyse a DONE photo again (a new version)")


class PhotoView(BaseModel):
    """The analysis status of one image (the original deployment's polling shape)."""

    media_id: str
    status: Literal["PENDING", "PROCESSING", "DONE", "ERROR"]
    room_type: str | None = None
    analysis: RoomAnalysis | None = Field(None, description="The current version's result")
    error_code: str | None = None
    error_message: str | None = None
    processed_at: dt.datetime | None = None
    method: str | None = Field(None, description="model | detector | none")
    provider: str | None = None
    model: str | None = None
    version: int | None = Field(None, description="Which analysis of this photo (1, 2, ...)")


async def _image(services: ServicesDep, media_id: str) -> media_db.Media:
    media = await media_db.get(services.db, media_id)
    if media is None:
        raise NotFoundError(f"no media {media_id!r}")
    return media


@router.post(
    "/{media_id}/analyze",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=JobView,
    responses={
        **NOT_FOUND,
        200: {"model": JobView, "description": "Its analysis job exists: returned as it is"},
        422: {"description": "Not an image, or a bad room_type"},
    },
)
async def analyze_photo(
    services: ServicesDep,
    media_id: MediaId,
    body: Annotated[AnalyzeRequest | None, Body()] = None,
) -> Response:
    media = await _image(services, media_id)
    if media.kind != media_db.MediaKind.IMAGE:
        raise BadInputError(f"media {media_id!r} is {media.kind}, not an image")
    request = body or AnalyzeRequest()
    work = AnalyzePhotoPayload(media_id=media_id, room_type=request.room_type, force=request.force)
    submitted = await submit_job(services.db, services.redis, registry.ANALYZE_PHOTO.name, work)
    code = status.HTTP_202_ACCEPTED if submitted.created else status.HTTP_200_OK
    return Response(
        JobView.of(submitted.job).model_dump_json(), code, media_type="application/json"
    )


@router.get("/{media_id}", responses=NOT_FOUND)
async def get_photo(services: ServicesDep, media_id: MediaId) -> PhotoView:
    await _image(services, media_id)
    return PhotoView.model_validate(await photos_db.polling_view(services.db, media_id))
