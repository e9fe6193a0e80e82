"""msgpack only: a job pickled by arq's default serializer is refused and runs nothing."""

from __future__ import annotations

import pickle

import msgpack
import pytest
from arq.connections import ArqRedis, create_pool

from conftest import run_burst
from mediaworker import client
from mediaworker.config import Settings
from mediaworker.db.pool import Pool
from mediaworker.errors import BadInputError
from mediaworker.queue import keys
from mediaworker.queue.connection import redis_settings
from mediaworker.queue.serializer import deserialize, serialize


def test_round_trip_of_a_job_and_of_a_failed_result() -> None:
    job = {"f": "generate_thumbnails", "a": [], "k": {"media_id": "abc"}, "t": 1, "et": 1}
    assert deserialize(serialize(job)) == job

    result = deserialize(serialize({"r": BadInputError("empty file (0 bytes)"), "s": False}))

    assert result["r"] == {"code": "BAD_INPUT", "message": "empty file (0 bytes)"}


def test_pickle_bytes_do_not_decode() -> None:
    with pytest.raises(ValueError):
        deserialize(pickle.dumps({"f": "generate_thumbnails", "a": (), "k": {}}))


def test_a_payload_that_is_not_a_map_is_refused() -> None:
    with pytest.raises(ValueError, match="map"):
        deserialize(msgpack.packb([1, 2, 3]))


async def test_a_pickled_job_is_refused_and_runs_nothing(
    db: Pool, redis: ArqRedis, settings: Settings
) -> None:
    pickling = await create_pool(redis_settings(settings.redis))  # arq's default: pickle
    try:
        job = await pickling.enqueue_job("generate_thumbnails", media_id="abc", _job_id="pickled-1")
        assert job is not None
    finally:
        await pickling.aclose()

    worker = await run_burst(settings)

    assert (worker.jobs_complete, worker.jobs_failed) == (0, 1)
    assert await db.fetch("SELECT job_id, function FROM job_runs") == [], "nothing ran"
    state = await client.job_status(redis, "pickled-1")
    assert state.status == "complete" and state.success is False
    assert await redis.zcard(keys.QUEUE_NAME) == 0
