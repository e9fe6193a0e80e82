"""The job registry: every job arq runs is declared once, and everything enqueues through it."""

from __future__ import annotations

import uuid
from typing import Any, get_type_hints

import pytest
from arq.connections import ArqRedis
from pydantic import BaseModel

from mediaworker import client, registry
from mediaworker.errors import BadInputError, NotFoundError
from mediaworker.ids import validate_job_id
from mediaworker.queue import keys
from mediaworker.settings import JOB_FUNCTIONS, WorkerSettings

LONGEST_ID = "m" * 128
# A value for each required payload field, as long as a field may be where that matters.
SAMPLE_FIELDS: dict[str, Any] = {
    "media_id": LONGEST_ID,
    "prompt": "a red fox",
    "text": "hello",
    "product": "poster",
    "project_id": LONGEST_ID,
}


def sample_payload(job: registry.JobDeclaration) -> BaseModel:
    required = [name for name, f in job.payload.model_fields.items() if f.is_required()]
    return job.payload.model_validate({name: SAMPLE_FIELDS[name] for name in required})


def test_every_function_arq_runs_is_declared_with_its_payload_and_result() -> None:
    run = {f.name for f in WorkerSettings.functions}
    scheduled = {c.name for c in WorkerSettings.cron_jobs}

    assert run == {job.name for job in registry.JOBS.values() if not job.cron}
    assert scheduled == {job.name for job in registry.JOBS.values() if job.cron}
    for job, fn in JOB_FUNCTIONS.items():
        hints = get_type_hints(fn)
        assert fn.__name__ == job.name
        assert (hints["payload"], hints["return"]) == (job.payload, job.result), job.name


def test_cron_jobs_may_not_be_enqueued_from_outside() -> None:
    for job in registry.JOBS.values():
        assert not (job.cron and job.external), job.name
    with pytest.raises(NotFoundError):
        registry.lookup(registry.RECONCILE_MEDIA.name, external=True)
    with pytest.raises(NotFoundError):
        registry.lookup("os.system")
    thumbnails = registry.lookup("generate_thumbnails", external=True)
    assert thumbnails is registry.GENERATE_THUMBNAILS


ENQUEUED_JOBS = [job for job in registry.JOBS.values() if not job.cron]


@pytest.mark.parametrize("job", ENQUEUED_JOBS, ids=lambda job: job.name)
def test_every_job_id_rule_gives_a_valid_id_that_names_the_work(
    job: registry.JobDeclaration,
) -> None:
    payload = sample_payload(job)

    job_id = job.job_id_for(payload)

    assert validate_job_id(job_id) == job_id
    assert job.job_id_for(payload) == job_id, "the same work, the same id"


def test_the_jobs_of_one_media_row_have_distinct_ids() -> None:
    ids = [job.job_id_for({"media_id": "m1"}) for job in registry.MEDIA_JOBS]

    assert len(set(ids)) == len(ids)


def test_a_speech_job_is_named_by_its_row_or_by_its_phrase() -> None:
    speech = registry.SYNTHESIZE_SPEECH
    phrase = speech.job_id_for(speech.validate({"text": "Hello world"}))

    row = {"text": "x", "tts_job_id": 7, "tts_claim_token": uuid.uuid4()}
    assert speech.job_id_for(speech.validate(row)) == "tts-job-7"
    assert speech.job_id_for(speech.validate({"text": " Hello\n world "})) == phrase
    assert speech.job_id_for(speech.validate({"text": "Hello world", "voice": "nova"})) != phrase
    with pytest.raises(BadInputError, match="names no job id"):
        speech.job_id_for({"text": "Hello world"})  # fields without the phrase's hash


@pytest.mark.parametrize(
    "payload",
    [
        {"media_id": "../etc/passwd"},
        {"media_id": "m1", "colour": "red"},
        {},
        {"media_id": 12},
    ],
    ids=["hostile id", "unknown field", "missing field", "wrong type"],
)
async def test_an_invalid_payload_is_bad_input_and_nothing_is_enqueued(
    redis: ArqRedis, payload: dict[str, Any]
) -> None:
    with pytest.raises(BadInputError, match="invalid payload"):
        await registry.enqueue(redis, "generate_thumbnails", payload)

    assert await redis.zcard(keys.QUEUE_NAME) == 0


async def test_an_unknown_job_or_a_bad_job_id_is_refused(redis: ArqRedis) -> None:
    with pytest.raises(NotFoundError):
        await registry.enqueue(redis, "no_such_job", {"media_id": "m1"})
    with pytest.raises(BadInputError):
        await registry.enqueue(redis, "generate_thumbnails", {"media_id": "m1"}, job_id="a b")

    assert await redis.zcard(keys.QUEUE_NAME) == 0


async def test_enqueue_by_name_takes_the_declared_id_and_priority(redis: ArqRedis) -> None:
    job = await registry.enqueue(redis, "generate_waveform", {"media_id": "m1"})
    custom = await registry.enqueue(
        redis, "generate_waveform", {"media_id": "m2"}, job_id="mine-1", priority=0
    )

    assert job.job_id == registry.GENERATE_WAVEFORM.job_id_for({"media_id": "m1"})
    assert custom.job_id == "mine-1"
    score = await redis.zscore(keys.QUEUE_NAME, job.job_id)
    first = await redis.zrange(keys.QUEUE_NAME, 0, 0)
    assert score is not None and first == [b"mine-1"], "priority 0 runs before the declared 15"


async def test_the_client_helpers_build_the_ids_the_registry_rules(redis: ArqRedis) -> None:
    enqueued = {
        registry.PROCESS_UPLOAD: await client.enqueue_process_upload(redis, "m1"),
        registry.GENERATE_THUMBNAILS: await client.enqueue_thumbnails(redis, "m1"),
        registry.GENERATE_WAVEFORM: await client.enqueue_waveform(redis, "m1"),
        registry.GENERATE_VIDEO_PREVIEW: await client.enqueue_video_preview(redis, "m1"),
        registry.GENERATE_VIDEO_THUMBNAIL: await client.enqueue_video_thumbnail(redis, "m1"),
        registry.GENERATE_IMAGE: await client.enqueue_generate_image(redis, "fox", media_id="m1"),
        registry.ENHANCE_IMAGE: await client.enqueue_enhance_image(redis, "m1"),
        registry.UPSCALE_IMAGE: await client.enqueue_upscale(redis, "m1", scale=4),
        registry.TRANSCRIBE_AUDIO: await client.enqueue_transcription(redis, "m1"),
        registry.SYNTHESIZE_SPEECH: await client.enqueue_speech(redis, "Hello"),
        registry.EXPORT_AR: await client.enqueue_ar_export(redis, "m1", "mug"),
        registry.ANALYZE_PHOTO: await client.enqueue_photo_analysis(redis, "m1"),
        registry.SYNC_INVENTORY: await client.enqueue_inventory_sync(redis, "p1"),
    }

    assert set(enqueued) == {job for job in registry.JOBS.values() if job.external}
    fields: dict[str, Any] = {
        "media_id": "m1",
        "prompt": "fox",
        "scale": 4,
        "text": "Hello",
        "product": "mug",
        "project_id": "p1",
    }
    for job, queued in enqueued.items():
        payload = job.validate({k: v for k, v in fields.items() if k in job.payload.model_fields})
        assert queued.job_id == job.job_id_for(payload), job.name
        info = await queued.info()
        assert info is not None and info.function == job.name
