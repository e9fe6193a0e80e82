"""Photo analysis and the moving inventory."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from mediaworker.payloads.base import MediaId, Payload, ProjectId, Result
from mediaworker.photos.analysis import RoomAnalysis, RoomType


class AnalyzePhotoPayload(Payload):
    media_id: MediaId
    room_type: RoomType | None = Field(None, description="given by the app: kept as a fact")
    force: bool = Field(False, description="analyse a DONE photo again (a new version)")


class AnalyzePhotoResult(Result):
    media_id: str
    skipped: bool = Field(description="the photo was DONE and force was off")
    status: str
    method: str | None = Field(description="model | detector | none (not analysed)")
    provider: str | None
    model: str | None = Field(description="the model id the API reported")
    version: int | None
    analysis: RoomAnalysis | None


class SyncInventoryPayload(Payload):
    project_id: ProjectId


class SyncInventoryResult(Result):
    project_id: str
    outcome: Literal["written", "unchanged", "skipped"]
    reason: str | None = None
    version: int | None = Field(None, description="the inventory's number of writes")
    inputs_hash: str | None = None
    totalItems: int | None = None
    totalVolume: float | None = None


class RefreshInventoriesPayload(Payload):
    pass


class RefreshInventoriesResult(Result):
    enqueued: list[str] = Field(description="projects whose inventory sync was enqueued")
    requeued_photos: list[str] = Field(description="photos left PROCESSING, enqueued again")
