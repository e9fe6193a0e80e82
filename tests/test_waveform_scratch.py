"""The waveform's scratch space is bounded by the duration, not by the input's sample rate: a
small FLAC at 640 kHz once made 1.28 MB of PCM a second of audio (768 MB for a 358 KB file).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import tempfile
from pathlib import Path

from arq.connections import ArqRedis

from conftest import run_burst
from media_fixtures import tone
from mediaworker import scratch
from mediaworker.config import Settings
from mediaworker.db import derivatives as derivatives_db
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.ingest import ingest_file
from mediaworker.storage import layout
from mediaworker.storage.base import Storage

SECONDS = 10.0
PCM_BYTES_PER_S_AT_48K = 48000 * 2


async def test_a_640_khz_flac_is_drawn_from_pcm_of_at_most_48_khz(
    db: Pool, redis: ArqRedis, storage: Storage, settings: Settings, tmp_path: Path
) -> None:
    media = (
        await ingest_file(db, storage, redis, tone(tmp_path / "hi.flac", SECONDS, rate=640_000))
    ).media
    ours = Path(tempfile.gettempdir()).glob  # this process's scratch folders only
    pattern = f"{scratch.prefix_of(os.getpid())}-*/audio.pcm"
    largest = 0

    async def watch() -> None:
        nonlocal largest
        while True:
            for pcm in ours(pattern):
                with contextlib.suppress(FileNotFoundError):
                    largest = max(largest, pcm.stat().st_size)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        await run_burst(settings)
    finally:
        watcher.cancel()

    found = await media_db.get(db, media.id)
    assert found is not None and found.status == "READY", found
    assert found.sample_rate == 640_000, "the row keeps the source's rate"
    assert 0 < largest <= PCM_BYTES_PER_S_AT_48K * SECONDS * 1.01, largest
    [data] = await derivatives_db.list_for(
        db, media.id, [layout.DerivativeType.WAVEFORM_JSON.value]
    )
    document = json.loads(await storage.get(data.storage_key))
    assert document["sample_rate"] == 48000
