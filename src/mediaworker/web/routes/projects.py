"""A project's moving inventory (issue 8): read the current one, or ask for a recomputation.

`GET /v1/projects/{project_id}/inventory` answers the stored inventory (404 before its first
sync); `POST /v1/projects/{project_id}/inventory/sync` submits `sync_inventory` (202). The sync
is single-flight and writes only when its inputs changed, so asking twice costs one run.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, status
from pydantic import BaseModel, Field

from mediaworker import registry
from mediaworker.db import inventories as inventories_db
from mediaworker.errors import NotFoundError
from mediaworker.ids import ID_PATTERN
from mediaworker.payloads import SyncInventoryPayload
from mediaworker.queue.submit import submit_job
from mediaworker.web.auth import Producer
from mediaworker.web.schemas import JobView
from mediaworker.web.services import ServicesDep

router = APIRouter(prefix="/v1/projects", tags=["projects"], dependencies=[Producer])
ProjectId = Annotated[str, Path(pattern=ID_PATTERN)]


class InventoryView(BaseModel):
    project_id: str
    version: int = Field(description="How many times this inventory was written")
    inputs_hash: str = Field(description="Same photos and analyses, same hash")
    computed_at: dt.datetime
    inventory: dict[str, Any] = Field(
        description="The original shape (projectId, totalItems, totalVolume, rooms) and the "
        "counts, volume_complete and the rules it was computed by"
    )


@router.get("/{project_id}/inventory", responses={404: {"description": "Not synced yet"}})
async def get_inventory(services: ServicesDep, project_id: ProjectId) -> InventoryView:
    row = await inventories_db.get(services.db, project_id)
    if row is None:
        raise NotFoundError(f"project {project_id!r} has no inventory yet")
    return InventoryView(
        project_id=project_id,
        version=row["version"],
        inputs_hash=row["inputs_hash"],
        computed_at=row["computed_at"],
        inventory=row["result"],
    )


@router.post("/{project_id}/inventory/sync", status_code=status.HTTP_202_ACCEPTED)
async def sync_inventory(services: ServicesDep, project_id: ProjectId) -> JobView:
    work = SyncInventoryPayload(project_id=project_id)
    # force: a kept result of an earlier run must not stand in for a new sync (as the client)
    submitted = await submit_job(
        services.db, services.redis, registry.SYNC_INVENTORY.name, work, force=True
    )
    return JobView.of(submitted.job)
