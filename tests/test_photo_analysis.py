"""analyze_photo end to end: the image made ready, the real SDKs against the vision stand-ins
(valid, not JSON, out of the schema, refused, 429, 529, cut at max_tokens), statuses, codes,
versions and one ai_metrics row per call; the offline detector and the honest `none`."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pyvips
from arq.connections import ArqRedis

from ai_stand_ins import ROOM_ANALYSIS, AiStandIn, ai_settings
from conftest import TESTDATA, run_burst
from mediaworker import client
from mediaworker.config import Settings
from mediaworker.db import inventories as inventories_db
from mediaworker.db import job_runs
from mediaworker.db import photos as photos_db
from mediaworker.db.pool import Pool
from mediaworker.errors import BadInputError, ErrorCode, MappedError, MediaWorkerError, map_error
from mediaworker.processing import detect
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.photo import prepare_for_analysis
from mediaworker.processing.pool import CpuPool
from mediaworker.providers import Providers, build_providers
from mediaworker.providers.http_errors import InvalidReplyError
from photo_fixtures import room_jpeg, upload_photo
from support import ai_metrics_rows, result_of

LIMITS = ImageLimits(100 * 1024 * 1024, 100_000_000)
ROOMS = TESTDATA / "rooms"
VISION = {"anthropic": "messages", "openai": "chat.completions"}


@pytest.fixture
async def api() -> AsyncIterator[AiStandIn]:
    async with AiStandIn(retry_after="1") as stand_in:
        yield stand_in


@pytest.fixture
async def photo_db(db: Pool) -> Pool:
    await db.execute("TRUNCATE ai_metrics, inventories")
    return db


@pytest.fixture(scope="module")
def room_photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 12 MP photo taken with the camera turned (EXIF orientation 6)."""
    return room_jpeg(tmp_path_factory.mktemp("rooms") / "room.jpg", 4000, 3000, orientation=6)


async def photo_state(db: Pool, media_id: str) -> tuple[str, str | None]:
    photo = await photos_db.get(db, media_id)
    assert photo is not None
    return photo.status, photo.error_code


def sent_image(call_body: dict[str, Any]) -> pyvips.Image:
    content = call_body["messages"][-1]["content"]
    if "source" in content[0]:  # Anthropic
        data = content[0]["source"]["data"]
    else:  # OpenAI: a data URL
        data = content[1]["image_url"]["url"].split(",", 1)[1]
    return pyvips.Image.new_from_buffer(base64.b64decode(data), "")


# --- the image sent --------------------------------------------------------------------------


def test_a_12_mp_photo_is_sent_upright_and_at_most_1568_px(room_photo: Path) -> None:
    prepared = prepare_for_analysis(str(room_photo), LIMITS)

    assert (prepared.source_width, prepared.source_height) == (3000, 4000)  # turned upright
    assert (prepared.width, prepared.height) == (1176, 1568)
    image = pyvips.Image.new_from_buffer(prepared.data, "")
    assert image.get("vips-loader") == "jpegload_buffer" and image.get_typeof("exif-data") == 0
    assert prepared.sha256 == hashlib.sha256(prepared.data).hexdigest()


def test_a_truncated_photo_is_bad_input(room_photo: Path, tmp_path: Path) -> None:
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(room_photo.read_bytes()[:5000])

    with pytest.raises(BadInputError):
        prepare_for_analysis(str(cut), LIMITS)


# --- the providers: one contract, both SDKs -----------------------------------------------------


@pytest.fixture(params=["anthropic", "openai"])
async def vision(
    request: pytest.FixtureRequest, api: AiStandIn, settings: Settings
) -> AsyncIterator[tuple[Providers, str]]:
    cpu = CpuPool(1)
    built = build_providers(ai_settings(settings, api, AI_PHOTO_ANALYZER=request.param), cpu)
    yield built, VISION[request.param]
    await built.aclose()
    cpu.close()


async def test_a_valid_reply_is_validated_and_names_the_model_the_api_reported(
    vision: tuple[Providers, str], api: AiStandIn, room_photo: Path
) -> None:
    providers, route = vision
    prepared = prepare_for_analysis(str(room_photo), LIMITS)

    found = await providers.photo_analyzer.analyze(prepared.data, content_type="image/jpeg")

    assert found.result.model_dump(mode="json") == ROOM_ANALYSIS and found.method == "model"
    assert found.model.startswith(providers.photo_analyzer.model + "-2026")
    assert json.loads(found.raw) == ROOM_ANALYSIS and found.usage.input_tokens
    [call] = api.calls(route)
    schema = json.dumps(call.body.get("output_config") or call.body["response_format"])
    assert '"json_schema"' in schema and "sofa_3_seat" in schema and "spaceship" not in schema
    assert max(sent_image(call.body).width, sent_image(call.body).height) == 1568


async def analysis_error(
    vision: tuple[Providers, str], api: AiStandIn, fault: str
) -> MediaWorkerError:
    """What the analyzer raises when its next reply has `fault`."""
    providers, route = vision
    api.fail(route, fault)
    with pytest.raises(MediaWorkerError) as caught:
        await providers.photo_analyzer.analyze(b"\xff\xd8jpeg", content_type="image/jpeg")
    assert len(api.calls(route)) == 1
    return caught.value


@pytest.mark.parametrize("fault", ["invalid_json", "schema", "max_tokens"])
async def test_a_reply_outside_the_schema_is_an_invalid_reply_that_keeps_the_text(
    fault: str, vision: tuple[Providers, str], api: AiStandIn
) -> None:
    error = await analysis_error(vision, api, fault)

    mapped = map_error(error)
    assert isinstance(error, InvalidReplyError) and error.raw and error.usage is not None
    assert (mapped.code, mapped.retryable) == (ErrorCode.PROVIDER_DOWN, True)
    expected = {
        "invalid_json": "not valid JSON",
        "schema": "breaks the schema",
        "max_tokens": "cut",
    }
    assert expected[fault] in mapped.message


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("refusal", ErrorCode.BAD_INPUT),
        ("429", ErrorCode.RATE_LIMIT),
        ("500", ErrorCode.PROVIDER_DOWN),
    ],
)
async def test_refusals_and_http_faults_map_to_their_codes(
    fault: str, code: ErrorCode, vision: tuple[Providers, str], api: AiStandIn
) -> None:
    mapped = map_error(await analysis_error(vision, api, fault))

    assert mapped.code == code and mapped.retryable == (code != ErrorCode.BAD_INPUT)
    assert mapped.retry_after_s == (1.0 if fault == "429" else None)


# --- the job -------------------------------------------------------------------------------------


async def test_a_photo_is_analysed_versioned_metered_and_its_project_inventoried(
    photo_db: Pool,
    redis: ArqRedis,
    storage: Any,
    settings: Settings,
    api: AiStandIn,
    room_photo: Path,
) -> None:
    media = await upload_photo(photo_db, storage, room_photo, project_id="flat-1")
    job = await client.enqueue_photo_analysis(redis, media.id)

    await run_burst(ai_settings(settings, api))

    result = await result_of(job)
    assert (result["status"], result["skipped"], result["version"]) == ("DONE", False, 1)
    [version] = await photos_db.list_analyses(photo_db, media.id)
    assert (version["provider"], version["model"]) == ("anthropic", "claude-haiku-5-5-20261101")
    assert (version["image_width"], version["image_height"]) == (1176, 1568)
    assert json.loads(version["raw_output"]) == ROOM_ANALYSIS and version["rejected_outputs"] == []
    assert version["cost_usd"] > 0 and version["input_tokens"] == 1234
    [metric] = await ai_metrics_rows(photo_db)
    assert (metric["operation"], metric["success"], metric["job_id"]) == (
        "analyze_photo",
        True,
        f"photo-{media.id}",
    )
    inventory = await inventories_db.get(photo_db, "flat-1")  # the debounced sync ran
    assert inventory is not None and inventory["total_items"] == 4
    assert inventory["result"]["rooms"][0]["room_type"] == "living_room"


async def test_a_done_photo_is_skipped_unless_forced_and_force_adds_a_version(
    photo_db: Pool,
    redis: ArqRedis,
    storage: Any,
    settings: Settings,
    api: AiStandIn,
    room_photo: Path,
) -> None:
    media = await upload_photo(photo_db, storage, room_photo)
    configured = ai_settings(settings, api)
    await client.enqueue_photo_analysis(redis, media.id)
    await run_burst(configured)

    await redis.flushdb()  # the kept result is gone (expired, or Redis lost): the job runs again
    again = await client.enqueue_photo_analysis(redis, media.id)
    await run_burst(configured)
    assert (await result_of(again))["skipped"] is True
    forced = await client.enqueue_photo_analysis(redis, media.id, force=True)
    await run_burst(configured)

    assert (await result_of(forced))["version"] == 2
    assert len(api.calls("messages")) == 2 and len(await ai_metrics_rows(photo_db)) == 2
    assert [v["version"] for v in await photos_db.list_analyses(photo_db, media.id)] == [1, 2]


async def test_a_room_type_given_by_the_app_is_told_to_the_model_and_kept(
    photo_db: Pool,
    redis: ArqRedis,
    storage: Any,
    settings: Settings,
    api: AiStandIn,
    room_photo: Path,
) -> None:
    media = await upload_photo(photo_db, storage, room_photo)
    await client.enqueue_photo_analysis(redis, media.id, room_type="kitchen")

    await run_burst(ai_settings(settings, api))

    photo = await photos_db.get(photo_db, media.id)
    assert photo is not None and (photo.room_type, photo.room_type_given) == ("kitchen", True)
    [call] = api.calls("messages")
    question = call.body["messages"][0]["content"][1]["text"]
    assert 'this room is a kitchen: use room_type "kitchen"' in question


JOB_FAULTS = [  # fault(s) in a row, the route, final status and code, calls, replies kept
    (["schema"], "anthropic", "DONE", None, 2, 1),
    (["invalid_json", "invalid_json"], "anthropic", "ERROR", "PROVIDER_DOWN", 2, 2),
    (["max_tokens", "max_tokens"], "openai", "ERROR", "PROVIDER_DOWN", 2, 2),
    (["refusal"], "anthropic", "ERROR", "BAD_INPUT", 1, 0),
    (["refusal"], "openai", "ERROR", "BAD_INPUT", 1, 0),
    (["429"], "anthropic", "DONE", None, 2, 0),
    (["529"], "anthropic", "DONE", None, 2, 0),
]


@pytest.mark.parametrize(
    ("faults", "provider", "status", "code", "calls", "kept"),
    JOB_FAULTS,
    ids=[f"{f[1]}-{'+'.join(f[0])}" for f in JOB_FAULTS],
)
async def test_every_fault_ends_in_its_status_with_one_metrics_row_per_call(
    faults: list[str],
    provider: str,
    status: str,
    code: str | None,
    calls: int,
    kept: int,
    photo_db: Pool,
    redis: ArqRedis,
    storage: Any,
    settings: Settings,
    api: AiStandIn,
    room_photo: Path,
) -> None:
    for fault in faults:
        api.fail(VISION[provider], fault)
    media = await upload_photo(photo_db, storage, room_photo)
    job = await client.enqueue_photo_analysis(redis, media.id)
    configured = ai_settings(settings, api, AI_PHOTO_ANALYZER=provider)
    configured = configured.model_copy(
        update={"queue": configured.queue.model_copy(update={"max_retries": 0 if code else 3})}
    )

    await run_burst(configured)

    assert await photo_state(photo_db, media.id) == (status, code)
    rows = await ai_metrics_rows(photo_db)
    assert len(api.calls(VISION[provider])) == calls == len(rows)
    assert [r["success"] for r in rows] == [False] * len(faults) + [True] * (calls - len(faults))
    versions = await photos_db.list_analyses(photo_db, media.id)
    assert sum(len(v["rejected_outputs"]) for v in versions) == kept
    assert versions[-1]["error_code"] == code
    if faults == ["429"]:
        runs = await job_runs.list_for_job(photo_db, job.job_id)
        waited_s = (runs[1]["started_at"] - runs[0]["finished_at"]).total_seconds()
        assert 0.9 < waited_s < 4, "the job waited for Retry-After"


# --- offline --------------------------------------------------------------------------------------


needs_detector = pytest.mark.skipif(
    detect.weights_dir() is None, reason="mediaworker[vision] or its weights are not installed"
)


@needs_detector
def test_the_detector_reports_nothing_the_room_photos_do_not_show() -> None:
    if not (ROOMS / "manifest.json").is_file():
        pytest.skip("../shared/testdata/rooms is not present")
    rooms = json.loads((ROOMS / "manifest.json").read_text())["rooms"]
    folder = str(detect.weights_dir())
    right = 0
    for room in rooms:
        prepared = prepare_for_analysis(str(ROOMS / room["file"]), LIMITS)
        found = detect.analyze_room(prepared.data, folder).analysis
        words = {w for i in found.items for w in (i.name, i.category)}
        said = " ".join(sorted(words)).replace("sofa", "couch").replace("tv_flat", "tv")
        absent = [w for w in room["not_present"] if w in said]
        assert absent == [], f"{room['file']}: reported {absent}"
        assert found.room_confidence <= 0.5
        right += found.room_type == room["room_type"]
    assert right >= 5, f"the room rule got {right} of {len(rooms)} right (measured: 5)"


@needs_detector
async def test_offline_the_detector_analyses_and_the_inventory_counts_estimates(
    photo_db: Pool, redis: ArqRedis, storage: Any, settings: Settings, testdata: Path
) -> None:
    media = await upload_photo(photo_db, storage, ROOMS / "bedroom_hotel.jpg", "flat-2")
    await client.enqueue_photo_analysis(redis, media.id)

    await run_burst(ai_settings(settings, None))

    [version] = await photos_db.list_analyses(photo_db, media.id)
    assert (version["method"], version["provider"], version["model"]) == (
        "detector",
        "local",
        "yolov4-tiny",
    )
    assert version["result"]["room_type"] == "bedroom"
    assert [i["category"] for i in version["result"]["items"]] == ["bed_double"]
    assert json.loads(version["raw_output"])[0]["label"] == "bed"
    inventory = await inventories_db.get(photo_db, "flat-2")
    assert inventory is not None and inventory["items_estimated"] == inventory["total_items"] == 1


async def test_without_key_or_detector_the_photo_is_done_but_not_analysed(
    photo_db: Pool,
    redis: ArqRedis,
    storage: Any,
    settings: Settings,
    room_photo: Path,
    tmp_path: Path,
) -> None:
    media = await upload_photo(photo_db, storage, room_photo, project_id="flat-3")
    await client.enqueue_photo_analysis(redis, media.id)
    empty = tmp_path / "no-weights"
    empty.mkdir()

    await run_burst(ai_settings(settings, None, VISION_WEIGHTS_DIR=str(empty)))

    assert await photo_state(photo_db, media.id) == ("DONE", None)
    [version] = await photos_db.list_analyses(photo_db, media.id)
    assert (version["method"], version["provider"], version["result"]["items"]) == (
        "none",
        "none",
        [],
    )
    assert await ai_metrics_rows(photo_db) == []  # nothing was called
    inventory = await inventories_db.get(photo_db, "flat-3")
    assert inventory is not None
    assert (inventory["photos_not_analysed"], inventory["photos_analysed"]) == (1, 0)
    assert inventory["result"]["volume_complete"] is False


async def test_a_missing_photo_is_not_found_and_a_video_is_bad_input(
    photo_db: Pool, redis: ArqRedis, storage: Any, settings: Settings, tmp_path: Path
) -> None:
    video = tmp_path / "clip.mp4"
    shutil.copy(TESTDATA / "manifest.json", video)
    from photo_fixtures import photo_row

    await photo_row(photo_db, "p", "a-video", kind="VIDEO")
    gone = await client.enqueue_photo_analysis(redis, "no-such-photo")
    wrong = await client.enqueue_photo_analysis(redis, "a-video")

    await run_burst(ai_settings(settings, None))

    assert (await gone.result_info()).result["code"] == "NOT_FOUND"  # type: ignore[union-attr]
    assert (await wrong.result_info()).result["code"] == "BAD_INPUT"  # type: ignore[union-attr]
    assert await photo_state(photo_db, "a-video") == ("ERROR", "BAD_INPUT")


async def test_the_failure_hook_of_a_photo_without_a_media_row_writes_nothing(
    photo_db: Pool,
) -> None:
    error = MappedError(ErrorCode.NOT_FOUND, "media ghost does not exist", retryable=False)

    await photos_db.mark_error(photo_db, "ghost", error)  # no foreign-key error either

    assert await photos_db.get(photo_db, "ghost") is None
