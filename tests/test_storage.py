"""The storage contract: one body per behaviour, run against the local and the S3 backend.

S3 runs against moto's server on 127.0.0.1 (`tests/s3_stand_in.py`), never in-process mocks.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aioboto3
import pytest
from botocore.exceptions import ClientError

from mediaworker.config import StorageConfig
from mediaworker.errors import (
    BadInputError,
    NotConfiguredError,
    NotFoundError,
    StorageError,
    map_error,
)
from mediaworker.storage import LocalStorage, S3Storage, Storage, check_key, open_storage
from mediaworker.storage.layout import derivative_key, original_key
from mediaworker.storage.local import TEMP_PREFIX
from mediaworker.storage.s3 import part_size_bytes, s3_object_url
from s3_stand_in import s3_config

MIB = 1024 * 1024
CHUNK = 5 * MIB  # S3's (and moto's) minimum part size, except the last part
BIG_SIZE = 2 * CHUNK + 123_457  # three parts
HOSTILE_KEYS = [
    "../etc/passwd",
    "/abs",
    "a/../../b",
    "a\\b",
    "a\x00b",
    "",
    ".",
    "a/./b",
    "a//b",
    "a/",
    "a b",
    "a" * 513,
]


def local_config(root: Path, **fields: Any) -> StorageConfig:
    config = StorageConfig(
        STORAGE_TYPE="local", WORKER_STORAGE_PATH=str(root), WORKER_STORAGE_BASE_URL=None
    )
    return config.model_copy(update=fields)


@pytest.fixture(params=["local", "s3"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Storage]:
    if request.param == "local":
        config = local_config(tmp_path / "store")
    else:
        config = request.getfixturevalue("s3_storage_config")
    config = config.model_copy(
        update={"s3_multipart_threshold_bytes": CHUNK, "s3_multipart_chunk_bytes": CHUNK}
    )
    store = await open_storage(config)
    yield store
    await store.close()


@pytest.fixture
async def local_storage(tmp_path: Path) -> AsyncIterator[LocalStorage]:
    store = await LocalStorage.open(local_config(tmp_path / "store"))
    yield store
    await store.close()


@pytest.fixture
async def s3_storage(s3_storage_config: StorageConfig) -> AsyncIterator[S3Storage]:
    config = s3_storage_config.model_copy(
        update={"s3_multipart_threshold_bytes": CHUNK, "s3_multipart_chunk_bytes": CHUNK}
    )
    store = await S3Storage.open(config)
    yield store
    await store.close()


async def head_object(config: StorageConfig, key: str) -> dict[str, Any]:
    """head_object through a client of our own, to see what S3 really stored."""
    assert config.s3_access_key_id is not None
    assert config.s3_secret_access_key is not None
    session = aioboto3.Session(
        aws_access_key_id=config.s3_access_key_id.get_secret_value(),
        aws_secret_access_key=config.s3_secret_access_key.get_secret_value(),
        region_name=config.s3_region,
    )
    async with session.client("s3", endpoint_url=config.s3_endpoint_url) as client:
        return dict(await client.head_object(Bucket=config.s3_bucket, Key=key))


def temp_files(folder: Path) -> list[Path]:
    return list(folder.rglob(f"{TEMP_PREFIX}*"))


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# --- the contract, for every backend ---------------------------------------------------------


async def test_put_get_round_trip(storage: Storage) -> None:
    key = original_key("m-1", "jpg")
    stored = await storage.put(key, b"\xff\xd8hello", content_type="image/jpeg")
    assert stored.key == key
    assert stored.size_bytes == 7
    assert stored.content_type == "image/jpeg"
    assert stored.url == storage.url(key)
    assert await storage.get(key) == b"\xff\xd8hello"


async def test_empty_object(storage: Storage) -> None:
    stored = await storage.put("empty.bin", b"", content_type="application/octet-stream")
    assert stored.size_bytes == 0
    assert await storage.get("empty.bin") == b""


async def test_put_file_download_round_trip_above_multipart_threshold(
    storage: Storage, tmp_path: Path
) -> None:
    data = os.urandom(BIG_SIZE)
    source = tmp_path / "big.bin"
    source.write_bytes(data)
    key = derivative_key("m-2", "LARGE", "webp")
    stored = await storage.put_file(key, source, content_type="image/webp")
    assert stored.size_bytes == BIG_SIZE
    assert stored.content_type == "image/webp"

    dest = tmp_path / "out" / "nested" / "big.webp"
    assert await storage.download(key, dest) == BIG_SIZE
    assert dest.read_bytes() == data
    assert [p.name for p in dest.parent.iterdir()] == ["big.webp"]  # no temp file left


async def test_download_refuses_an_object_over_max_bytes_before_writing_a_byte(
    storage: Storage, tmp_path: Path
) -> None:
    key = original_key("m-big", "jpg")
    await storage.put(key, os.urandom(BIG_SIZE), content_type="image/jpeg")
    dest = tmp_path / "scratch" / "original"
    dest.parent.mkdir()

    with pytest.raises(BadInputError, match="over the"):
        await storage.download(key, dest, max_bytes=BIG_SIZE - 1)

    assert list(dest.parent.iterdir()) == [], "nothing written, not even a temporary file"
    assert await storage.download(key, dest, max_bytes=BIG_SIZE) == BIG_SIZE


async def test_put_file_below_threshold(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "small.txt"
    source.write_bytes(b"small file")
    stored = await storage.put_file("docs/small.txt", source, content_type="text/plain")
    assert stored.size_bytes == 10
    assert await storage.get("docs/small.txt") == b"small file"


async def test_exists_and_delete(storage: Storage) -> None:
    key = "media/m-3/m-3-thumbnail.jpg"
    assert await storage.exists(key) is False
    await storage.put(key, b"x", content_type="image/jpeg")
    assert await storage.exists(key) is True
    assert await storage.exists("media/m-3") is False  # a prefix is not an object
    await storage.delete(key)
    assert await storage.exists(key) is False
    await storage.delete(key)  # deleting a missing key is not an error
    await storage.delete("never/was/here.bin")


async def test_missing_key_is_not_found(storage: Storage, tmp_path: Path) -> None:
    key = "media/nope/nope-original.png"
    with pytest.raises(NotFoundError, match=r"nope-original\.png"):
        await storage.get(key)
    dest = tmp_path / "dest.png"
    with pytest.raises(NotFoundError, match=r"nope-original\.png"):
        await storage.download(key, dest)
    assert not dest.exists()
    assert temp_files(tmp_path) == []
    assert map_error(NotFoundError("x")).retryable is False


async def test_missing_source_file_is_not_found(storage: Storage, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match=r"missing\.bin"):
        await storage.put_file("k.bin", tmp_path / "missing.bin", content_type="image/png")
    assert await storage.exists("k.bin") is False


async def test_overwrite_replaces(storage: Storage, tmp_path: Path) -> None:
    await storage.put("over/write.txt", b"first version, longer", content_type="text/plain")
    await storage.put("over/write.txt", b"second", content_type="text/plain")
    assert await storage.get("over/write.txt") == b"second"
    source = tmp_path / "third.txt"
    source.write_bytes(b"3")
    await storage.put_file("over/write.txt", source, content_type="text/plain")
    assert await storage.get("over/write.txt") == b"3"


async def test_hostile_keys_are_bad_input(storage: Storage, tmp_path: Path) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(b"x")
    dest = tmp_path / "dest.bin"

    async def url(key: str) -> str:
        return storage.url(key)

    operations: dict[str, Callable[[str], Awaitable[object]]] = {
        "put": lambda key: storage.put(key, b"x", content_type="text/plain"),
        "put_file": lambda key: storage.put_file(key, source, content_type="text/plain"),
        "get": storage.get,
        "download": lambda key: storage.download(key, dest),
        "exists": storage.exists,
        "delete": storage.delete,
        "url": url,
    }
    accepted = []
    for key in HOSTILE_KEYS:
        for name, operation in operations.items():
            try:
                await operation(key)
            except BadInputError as exc:
                assert len(exc.message) <= 200
            else:
                accepted.append((name, key))
    assert accepted == []
    assert not dest.exists()


async def test_bad_content_type_is_bad_input(storage: Storage) -> None:
    for content_type in ["", "jpeg", "text/plain\r\nX-Evil: 1", "a/b\x00", "a/b; \n"]:
        with pytest.raises(BadInputError):
            await storage.put("k.txt", b"x", content_type=content_type)
    assert await storage.exists("k.txt") is False
    stored = await storage.put("k.txt", b"x", content_type="text/plain; charset=utf-8")
    assert stored.content_type == "text/plain; charset=utf-8"


async def test_url_shape(storage: Storage, tmp_path: Path) -> None:
    key = "media/m-4/m-4-medium.jpg"
    url = storage.url(key)
    if isinstance(storage, LocalStorage):
        assert url == (tmp_path / "store" / key).resolve().as_uri()
        assert url.startswith("file:///")
    else:
        assert isinstance(storage, S3Storage)
        assert url.startswith("http://127.0.0.1:")
        assert url.endswith(f"/test-{url.split('/test-')[1].split('/')[0]}/{key}")
    assert storage.url(key) == url  # stable


# --- check_key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "key", ["a", "a.b", "media/m-1/m-1-original.jpg", "x/y/z_1-2.tar.gz", ".hidden", "a" * 512]
)
def test_check_key_accepts(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize("key", HOSTILE_KEYS, ids=repr)
def test_check_key_refuses(key: str) -> None:
    with pytest.raises(BadInputError) as info:
        check_key(key)
    assert len(info.value.message) <= 200


# --- local only ------------------------------------------------------------------------------


async def test_local_creates_root_and_base_url(tmp_path: Path) -> None:
    root = tmp_path / "deep" / "storage"
    store = await open_storage(local_config(root, base_url="https://cdn.example.com/files/"))
    assert isinstance(store, LocalStorage)
    assert root.is_dir()
    assert store.url("a/b.jpg") == "https://cdn.example.com/files/a/b.jpg"
    stored = await store.put("a/b.jpg", b"x", content_type="image/jpeg")
    assert stored.url == "https://cdn.example.com/files/a/b.jpg"
    assert (root / "a" / "b.jpg").read_bytes() == b"x"


async def test_local_root_not_usable_is_not_configured(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_bytes(b"")
    with pytest.raises(NotConfiguredError):
        await open_storage(local_config(blocker / "storage"))


async def test_local_writes_leave_no_temp_files(
    local_storage: LocalStorage, tmp_path: Path
) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(MIB))
    for i in range(3):
        await local_storage.put(f"a/{i}.bin", b"data", content_type="image/png")
        await local_storage.put_file(f"a/{i}.bin", source, content_type="image/png")
    root = local_storage.root
    assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == [
        "a",
        "a/0.bin",
        "a/1.bin",
        "a/2.bin",
    ]
    assert oct((local_storage.root / "a" / "0.bin").stat().st_mode & 0o777) == oct(0o644)


async def test_local_disk_full_is_storage_error_and_keeps_old_object(
    local_storage: LocalStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    await local_storage.put("k.bin", b"old", content_type="image/png")

    def disk_full(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(StorageError, match="ENOSPC") as info:
        await local_storage.put("k.bin", b"new", content_type="image/png")
    monkeypatch.undo()
    assert map_error(info.value).retryable is True
    assert await local_storage.get("k.bin") == b"old"
    assert [p.name for p in local_storage.root.iterdir()] == ["k.bin"]


async def test_local_symlink_out_of_root_is_refused(
    local_storage: LocalStorage, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_bytes(b"secret")
    (local_storage.root / "escape").symlink_to(outside, target_is_directory=True)
    (local_storage.root / "link.txt").symlink_to(outside / "passwd")
    (local_storage.root / "rootlink").symlink_to(local_storage.root, target_is_directory=True)

    for key in ["escape/passwd", "escape/new.txt", "link.txt"]:
        with pytest.raises(BadInputError, match="outside the storage root"):
            await local_storage.get(key)
        with pytest.raises(BadInputError):
            await local_storage.put(key, b"pwned", content_type="text/plain")
        with pytest.raises(BadInputError):
            await local_storage.exists(key)
        with pytest.raises(BadInputError):
            await local_storage.delete(key)
        with pytest.raises(BadInputError):
            await local_storage.download(key, tmp_path / "copy")
    with pytest.raises(BadInputError):
        await local_storage.put("rootlink", b"x", content_type="text/plain")
    assert sorted(p.name for p in outside.iterdir()) == ["passwd"]
    assert (outside / "passwd").read_bytes() == b"secret"

    # A symlink that stays inside the root is followed.
    await local_storage.put("real/file.txt", b"inside", content_type="text/plain")
    (local_storage.root / "alias").symlink_to(local_storage.root / "real")
    assert await local_storage.get("alias/file.txt") == b"inside"


async def test_local_key_conflicting_with_prefix_is_bad_input(
    local_storage: LocalStorage,
) -> None:
    await local_storage.put("a/b.txt", b"x", content_type="text/plain")
    with pytest.raises(BadInputError, match="conflicts"):
        await local_storage.put("a", b"x", content_type="text/plain")
    with pytest.raises(NotFoundError):
        await local_storage.get("a")


# --- S3 only ---------------------------------------------------------------------------------


async def test_s3_stores_content_type_and_uses_multipart(
    s3_storage: S3Storage, s3_storage_config: StorageConfig, tmp_path: Path
) -> None:
    await s3_storage.put("small.png", b"png", content_type="image/png")
    head = await head_object(s3_storage_config, "small.png")
    assert head["ContentType"] == "image/png"
    assert head["ContentLength"] == 3

    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(BIG_SIZE))
    await s3_storage.put_file("big.mp4", source, content_type="video/mp4")
    head = await head_object(s3_storage_config, "big.mp4")
    assert head["ContentType"] == "video/mp4"
    assert head["ContentLength"] == BIG_SIZE
    assert head["ETag"].strip('"').endswith("-3")  # three parts of 5 MiB, 5 MiB, the rest


async def test_s3_failed_multipart_upload_is_aborted(
    s3_storage: S3Storage,
    s3_storage_config: StorageConfig,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = s3_storage._client
    real_upload_part = client.upload_part
    calls = 0

    async def flaky_upload_part(**kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Reduce your request rate"}},
                "UploadPart",
            )
        return await real_upload_part(**kwargs)

    monkeypatch.setattr(client, "upload_part", flaky_upload_part)
    source = tmp_path / "big.bin"
    source.write_bytes(os.urandom(BIG_SIZE))
    with pytest.raises(StorageError, match="SlowDown"):
        await s3_storage.put_file("big.bin", source, content_type="video/mp4")
    monkeypatch.undo()

    uploads = await client.list_multipart_uploads(Bucket=s3_storage_config.s3_bucket)
    assert uploads.get("Uploads", []) == []
    assert await s3_storage.exists("big.bin") is False


async def test_s3_missing_bucket_is_not_configured(s3_endpoint: str) -> None:
    config = s3_config(s3_endpoint, "no-such-bucket-here")
    with pytest.raises(NotConfiguredError, match="no-such-bucket-here"):
        await open_storage(config)


@pytest.mark.parametrize(
    "fields",
    [
        {"s3_secret_access_key": None},  # half the credentials
        {"s3_endpoint_url": "not-a-url"},
        {"s3_endpoint_url": "ftp://127.0.0.1:1"},
    ],
    ids=["partial-credentials", "endpoint-not-a-url", "endpoint-not-http"],
)
async def test_s3_bad_configuration_is_not_configured(
    s3_endpoint: str, fields: dict[str, Any]
) -> None:
    config = s3_config(s3_endpoint, "bkt", **fields)
    with pytest.raises(NotConfiguredError) as info:
        await open_storage(config)
    assert "testing" not in info.value.message  # the credentials never reach a message
    assert map_error(info.value).retryable is False


async def test_s3_unreachable_endpoint_is_retryable_storage_error(tmp_path: Path) -> None:
    config = s3_config(f"http://127.0.0.1:{closed_port()}", "b")
    started = time.monotonic()
    store = await S3Storage.open(config, check_bucket=False)
    try:
        results = await asyncio.gather(
            open_storage(config),
            store.get("k.bin"),
            store.put("k.bin", b"x", content_type="image/png"),
            store.exists("k.bin"),
            store.delete("k.bin"),
            store.download("k.bin", tmp_path / "k.bin"),
            return_exceptions=True,
        )
    finally:
        await store.close()
    elapsed = time.monotonic() - started
    for result in results:
        assert isinstance(result, StorageError), result
        assert "unreachable" in result.message
        assert map_error(result).retryable is True
    assert not (tmp_path / "k.bin").exists()
    assert elapsed < 6  # two attempts, connection refused at once, one short backoff


def test_s3_url_shapes() -> None:
    config = StorageConfig(
        STORAGE_TYPE="s3",
        S3_BUCKET="media",
        S3_REGION="eu-west-3",
        S3_ENDPOINT_URL=None,
        S3_PUBLIC_BASE_URL=None,
    )
    key = "media/m-1/m-1-original.jpg"
    assert s3_object_url(config, key) == f"https://media.s3.eu-west-3.amazonaws.com/{key}"
    custom = config.model_copy(update={"s3_endpoint_url": "https://acc.r2.cloudflarestorage.com/"})
    assert s3_object_url(custom, key) == f"https://acc.r2.cloudflarestorage.com/media/{key}"
    public = custom.model_copy(update={"s3_public_base_url": "https://cdn.example.com"})
    assert s3_object_url(public, key) == f"https://cdn.example.com/{key}"
    with pytest.raises(BadInputError):
        s3_object_url(public, "../x")


def test_part_size_respects_s3_limits() -> None:
    assert part_size_bytes(100 * MIB, 1 * MIB) == 5 * MIB  # never below the 5 MiB minimum
    assert part_size_bytes(100 * MIB, 8 * MIB) == 8 * MIB
    big = 100_000 * MIB
    assert -(-big // part_size_bytes(big, 8 * MIB)) <= 10_000  # never more than 10,000 parts


async def test_local_download_links_instead_of_copying_and_keeps_the_object(
    local_storage: LocalStorage, tmp_path: Path
) -> None:
    await local_storage.put("media/a/a-original.jpg", b"first", content_type="image/jpeg")
    scratch = tmp_path / "scratch" / "original"

    size = await local_storage.download("media/a/a-original.jpg", scratch)
    stored = local_storage.root / "media/a/a-original.jpg"

    assert size == 5 and scratch.read_bytes() == b"first"
    assert scratch.stat().st_ino == stored.stat().st_ino, "a link, not a copy"
    await local_storage.put("media/a/a-original.jpg", b"second", content_type="image/jpeg")
    assert scratch.read_bytes() == b"first", "a later put replaces the stored file only"
    scratch.unlink()
    assert await local_storage.get("media/a/a-original.jpg") == b"second"
