"""Photos and projects for the photo analysis and inventory tests: uploads as a producer
writes them, analyses written through the real queries, bulk projects through COPY."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pyvips

from mediaworker.db import media as media_db
from mediaworker.db import photos as photos_db
from mediaworker.db.pool import Pool
from mediaworker.errors import ErrorCode, MappedError
from mediaworker.photos import analysis
from mediaworker.storage import layout
from mediaworker.storage.base import Storage

CATEGORIES = ("bed_double", "nightstand", "wardrobe_2_door", "dining_chair", "sofa_3_seat")


def room_jpeg(path: Path, width: int = 4000, height: int = 3000, orientation: int = 1) -> Path:
    """A photo-sized JPEG (a gradient with noise), tagged with an EXIF orientation."""
    xyz = pyvips.Image.xyz(width, height)
    noise = pyvips.Image.gaussnoise(width, height, sigma=20, mean=0)
    image = (xyz[0] * 255 / width + noise).bandjoin([xyz[1] * 255 / height, xyz[0] * 0 + 90])
    image = image.cast("uchar").copy(interpretation="srgb")
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    image.jpegsave(str(path), Q=90)
    return path


async def upload_photo(
    db: Pool, storage: Storage, path: Path, project_id: str | None = None
) -> media_db.Media:
    """An image upload's row and original, as a producer writes them (no job enqueued)."""
    media_id = uuid.uuid4().hex
    key = layout.original_key(media_id, path.suffix)
    stored = await storage.put_file(key, path, content_type="image/jpeg")
    new = media_db.NewMedia(
        media_id,
        media_db.MediaKind.IMAGE,
        key,
        path.name,
        "image/jpeg",
        stored.size_bytes,
        project_id=project_id,
    )
    return await media_db.insert(db, new)


async def photo_row(
    db: Pool, project_id: str, media_id: str, kind: str = "IMAGE"
) -> media_db.Media:
    """A media row of the project whose original is never read (the inventory reads rows)."""
    key = layout.original_key(media_id, "jpg")
    new = media_db.NewMedia(
        media_id, media_db.MediaKind(kind), key, None, None, 1, project_id=project_id
    )
    return await media_db.insert(db, new)


def item(category: str, quantity: int = 1, **fields: Any) -> dict[str, Any]:
    return {
        "name": fields.pop("name", category.replace("_", " ")),
        "category": category,
        "quantity": quantity,
        "dismountable": fields.pop("dismountable", False),
        "volume_m3": fields.pop("volume_m3", None),
        "confidence": fields.pop("confidence", 0.9),
    }


async def analysed(
    db: Pool,
    media_id: str,
    room_type: str,
    items: list[dict[str, Any]],
    *,
    method: str = "model",
    room_label: str | None = None,
) -> None:
    """The photo claimed and finished with this analysis, through the job's own queries."""
    result = analysis.RoomAnalysis.model_validate(
        {
            "room_type": room_type,
            "room_label": room_label,
            "room_confidence": 0.9,
            "items": items,
        }
    )
    await photos_db.claim(db, media_id, room_type=None, force=True)
    run = photos_db.NewAnalysis(
        media_id=media_id,
        method=method,
        provider={"model": "anthropic", "detector": "local"}.get(method, "none"),
        model="seeded",
        prompt_version=analysis.PROMPT_VERSION,
        schema_version=analysis.SCHEMA_VERSION,
        image={},
        raw_output=result.model_dump_json(),
        result=result.model_dump(mode="json"),
    )
    await photos_db.finish(db, run, room_type)


async def failed(db: Pool, media_id: str) -> None:
    error = MappedError(ErrorCode.BAD_INPUT, "seeded failure", retryable=False)
    await photos_db.mark_error(db, media_id, error)


async def bulk_project(db: Pool, project_id: str, photos: int, items_per_photo: int) -> None:
    """`photos` analysed photos of the project (rooms of 20 photos), written by COPY."""
    ids = [f"{project_id}-{n:06d}" for n in range(photos)]
    async with db.acquire() as conn, conn.transaction():
        await conn.copy_records_to_table(
            "media",
            records=[(i, "IMAGE", "READY", f"media/{i}/x.jpg", project_id) for i in ids],
            columns=["id", "kind", "status", "storage_key", "project_id"],
        )
        await conn.execute(
            """INSERT INTO photo_analyses (media_id, version, method, provider, model,
                                          prompt_version, schema_version, result)
               SELECT id, 1, 'model', 'anthropic', 'seeded', 'p', 's', result::jsonb
               FROM unnest($1::text[], $2::text[]) AS t(id, result)""",
            ids,
            [json.dumps(_result(n, items_per_photo)) for n in range(photos)],
        )
        await conn.execute(
            """INSERT INTO photos (media_id, status, room_type, analysis_id)
               SELECT a.media_id, 'DONE', a.result->>'room_type', a.id
               FROM photo_analyses a JOIN media m ON m.id = a.media_id
               WHERE m.project_id = $1""",
            project_id,
        )


def _result(n: int, items_per_photo: int) -> dict[str, Any]:
    return {
        "room_type": "bedroom",
        "room_label": f"room {n // 20}",
        "room_confidence": 0.9,
        "items": [
            item(CATEGORIES[k % len(CATEGORIES)], 1 + (n + k) % 3) for k in range(items_per_photo)
        ],
    }
