"""Photo analysis and the moving inventory over HTTP (issue 8's surfaces): an upload of a
project, its analysis enqueued and polled, the inventory synced and read, all run by a real
worker with the offline analyzer; and the requests these routes refuse."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx

from ai_stand_ins import ai_settings
from conftest import api_client, api_settings, run_burst
from mediaworker.config import Settings
from mediaworker.db.pool import Pool


async def upload(http: httpx.AsyncClient, path: Path, **fields: str) -> dict[str, Any]:
    with path.open("rb") as f:
        answer = await http.post("/v1/media", files={"file": (path.name, f)}, data=fields)
    assert answer.status_code == 202, answer.text
    accepted: dict[str, Any] = answer.json()
    return accepted


async def test_a_project_photo_is_analysed_polled_and_inventoried(
    http_api: httpx.AsyncClient, settings: Settings, testdata: Path
) -> None:
    project = f"flat-{uuid.uuid4().hex[:8]}"  # inventories outlive the db fixture's truncation
    accepted = await upload(http_api, testdata / "rooms" / "bedroom_hotel.jpg", project_id=project)
    media_id = accepted["media_id"]
    media = (await http_api.get(f"/v1/media/{media_id}")).json()
    assert media["project_id"] == project
    before = (await http_api.get(f"/v1/photos/{media_id}")).json()
    assert (before["status"], before["analysis"], before["processed_at"]) == ("PENDING", None, None)
    assert (await http_api.get(f"/v1/projects/{project}/inventory")).status_code == 404

    analyze = await http_api.post(f"/v1/photos/{media_id}/analyze", json={"room_type": "bedroom"})
    again = await http_api.post(f"/v1/photos/{media_id}/analyze")
    assert analyze.status_code == 202, analyze.text
    assert analyze.json()["job_id"] == f"photo-{media_id}"
    assert analyze.json()["function"] == "analyze_photo"
    assert again.status_code == 200 and again.json()["job_id"] == f"photo-{media_id}"

    await run_burst(ai_settings(settings, None))

    photo = (await http_api.get(f"/v1/photos/{media_id}")).json()
    assert photo["status"] == "DONE", photo
    assert photo["room_type"] == "bedroom" and photo["processed_at"] is not None
    assert photo["analysis"]["room_type"] == "bedroom"
    assert photo["method"] in ("detector", "none") and photo["version"] == 1
    assert photo["error_code"] is None and photo["error_message"] is None

    sync = await http_api.post(f"/v1/projects/{project}/inventory/sync")
    assert sync.status_code == 202, sync.text
    assert (sync.json()["job_id"], sync.json()["function"]) == (
        f"inventory-{project}",
        "sync_inventory",
    )
    await run_burst(ai_settings(settings, None))

    inventory = (await http_api.get(f"/v1/projects/{project}/inventory")).json()
    assert inventory["project_id"] == project and inventory["inputs_hash"]
    assert inventory["inventory"]["projectId"] == project
    assert inventory["inventory"]["photos"]["total"] == 1
    quantities = [i["quantity"] for i in photo["analysis"]["items"]]
    assert inventory["inventory"]["totalItems"] == sum(quantities)
    job = (await http_api.get(f"/v1/jobs/{sync.json()['job_id']}")).json()
    assert job["state"] == "succeeded"
    assert job["result"]["outcome"] in ("written", "unchanged")


async def test_an_upload_can_ask_for_its_analysis(
    http_api: httpx.AsyncClient, settings: Settings, testdata: Path
) -> None:
    accepted = await upload(
        http_api, testdata / "rooms" / "kitchen_island.jpg", project_id="flat-10", analyze="true"
    )

    await run_burst(ai_settings(settings, None))

    photo = (await http_api.get(f"/v1/photos/{accepted['media_id']}")).json()
    assert photo["status"] == "DONE" and photo["version"] == 1


async def test_the_photo_routes_refuse_what_they_cannot_do(
    http_api: httpx.AsyncClient, db: Pool, settings: Settings, testdata: Path
) -> None:
    audio = await upload(http_api, testdata / "audio" / "short_0.8s.mp3")
    jpeg = testdata / "rooms" / "bedroom_hotel.jpg"
    with jpeg.open("rb") as f:
        bad_project = await http_api.post(
            "/v1/media", files={"file": ("a.jpg", f)}, data={"project_id": "../etc"}
        )

    answers = {
        "unknown media": await http_api.post("/v1/photos/no-such-media/analyze"),
        "unknown photo": await http_api.get("/v1/photos/no-such-media"),
        "not an image": await http_api.post(f"/v1/photos/{audio['media_id']}/analyze"),
        "bad room": await http_api.post(
            f"/v1/photos/{audio['media_id']}/analyze", json={"room_type": "dungeon"}
        ),
        "bad media id": await http_api.get("/v1/photos/bad..id"),
        "bad project id": await http_api.post("/v1/projects/bad..id/inventory/sync"),
        "bad upload project": bad_project,
    }

    codes = {name: (a.status_code, a.json()["error"]["code"]) for name, a in answers.items()}
    assert codes == {
        "unknown media": (404, "NOT_FOUND"),
        "unknown photo": (404, "NOT_FOUND"),
        "not an image": (422, "BAD_INPUT"),
        "bad room": (422, "BAD_INPUT"),
        "bad media id": (422, "BAD_INPUT"),
        "bad project id": (422, "BAD_INPUT"),
        "bad upload project": (422, "BAD_INPUT"),
    }
    assert await db.fetchval("SELECT count(*) FROM media") == 1  # the audio only
    assert await db.fetchval("SELECT count(*) FROM jobs WHERE function <> 'process_upload'") == 0


async def test_the_photo_routes_need_a_token_and_are_in_the_schema(
    settings: Settings, db: Pool, redis: Any
) -> None:
    paths = (
        ("POST", "/v1/photos/m1/analyze"),
        ("GET", "/v1/photos/m1"),
        ("GET", "/v1/projects/p1/inventory"),
        ("POST", "/v1/projects/p1/inventory/sync"),
    )
    async with api_client(api_settings(settings), token=None) as anonymous:
        refused = [(await anonymous.request(m, p)).status_code for m, p in paths]
    async with api_client(api_settings(settings)) as http:
        schema = (await http.get("/openapi.json")).json()

    assert refused == [401, 401, 401, 401]
    assert {"/v1/photos/{media_id}/analyze", "/v1/photos/{media_id}"} <= schema["paths"].keys()
    assert "/v1/projects/{project_id}/inventory/sync" in schema["paths"]
    polled = schema["components"]["schemas"]["PhotoView"]["properties"]
    assert {"status", "room_type", "analysis", "error_code", "error_message", "processed_at"} <= (
        polled.keys()
    )
    accepted = schema["paths"]["/v1/photos/{media_id}/analyze"]["post"]["responses"]["202"]
    assert accepted["content"]["application/json"]["schema"]["$ref"].endswith("/JobView")
