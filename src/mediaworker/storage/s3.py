"""S3 storage (AWS, or an S3-compatible store such as R2 or MinIO through S3_ENDPOINT_URL).

One aioboto3 client, created by `S3Storage.open()` and closed by `close()`. botocore retries
twice at most, with short timeouts: the job's own retry owns the backoff. `put_file()` sends
one `put_object` below S3_MULTIPART_THRESHOLD_BYTES, otherwise a multipart upload that is
aborted on any failure; `download()` streams the body to a file in chunks. Every botocore,
aiohttp or disk error is translated here (storage/s3_errors.py); job code never sees one.
"""

from __future__ import annotations

import asyncio
import os
from contextlib import AsyncExitStack, suppress
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import aioboto3
from aiobotocore.config import AioConfig
from botocore.exceptions import ClientError

from mediaworker.config import StorageConfig
from mediaworker.errors import NotConfiguredError
from mediaworker.storage.base import (
    StoredObject,
    check_content_type,
    check_key,
    check_size,
    shown_key,
)
from mediaworker.storage.local import PendingFile, open_source
from mediaworker.storage.s3_errors import (
    BUCKET_MISSING_CODES,
    NOT_CONFIGURED_CODES,
    NOT_FOUND_CODES,
    error_code,
    translated,
)

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

MIN_PART_BYTES = 5 * 1024 * 1024  # S3's minimum for every part but the last
MAX_PARTS = 10_000
DOWNLOAD_CHUNK_BYTES = 1024 * 1024


def s3_object_url(config: StorageConfig, key: str) -> str:
    """The stable (not presigned) URL of `key`."""
    check_key(key)
    if config.s3_public_base_url:
        return f"{config.s3_public_base_url.rstrip('/')}/{key}"
    if config.s3_endpoint_url:
        return f"{config.s3_endpoint_url.rstrip('/')}/{config.s3_bucket}/{key}"
    return f"https://{config.s3_bucket}.s3.{config.s3_region}.amazonaws.com/{key}"


def part_size_bytes(size_bytes: int, chunk_bytes: int) -> int:
    """The part size for a multipart upload: at least 5 MiB, and at most 10,000 parts."""
    part = max(chunk_bytes, MIN_PART_BYTES)
    return max(part, -(-size_bytes // MAX_PARTS))


class S3Storage:
    name = "s3"

    def __init__(self, client: S3Client, stack: AsyncExitStack, config: StorageConfig) -> None:
        self._client = client
        self._stack = stack
        self._config = config
        self._bucket = config.s3_bucket

    @classmethod
    async def open(cls, config: StorageConfig, *, check_bucket: bool = True) -> S3Storage:
        """Create the client; with `check_bucket`, fail unless the bucket exists and answers."""
        stack = AsyncExitStack()
        try:
            client = await _open_client(stack, config)
            storage = cls(client, stack, config)
            if check_bucket:
                await storage._check_bucket()
        except BaseException:
            await stack.aclose()
            raise
        return storage

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredObject:
        check_key(key)
        check_content_type(content_type)
        with translated("put", key):
            await self._client.put_object(
                Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
            )
        return self._stored(key, len(data), content_type)

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        check_key(key)
        check_content_type(content_type)
        with translated("put", key):
            source = await asyncio.to_thread(open_source, path)
            try:
                size = await asyncio.to_thread(_file_size, source)
                if size < max(self._config.s3_multipart_threshold_bytes, 1):
                    data = await asyncio.to_thread(source.read)
                    await self._client.put_object(
                        Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
                    )
                    size = len(data)
                else:
                    size = await self._put_multipart(key, source, size, content_type)
            finally:
                await asyncio.to_thread(source.close)
        return self._stored(key, size, content_type)

    async def get(self, key: str) -> bytes:
        check_key(key)
        with translated("get", key):
            response = await self._client.get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            async with body:
                return await body.read()

    async def download(self, key: str, dest: Path, *, max_bytes: int | None = None) -> int:
        """Streamed in DOWNLOAD_CHUNK_BYTES; the size checked from the response headers before
        any byte of the body is read, and again as the bytes arrive."""
        check_key(key)
        with translated("download", key):
            response = await self._client.get_object(Bucket=self._bucket, Key=key)
            body = response["Body"]
            async with body:
                check_size(int(response.get("ContentLength") or 0), max_bytes)
                pending = await asyncio.to_thread(PendingFile, dest)
                try:
                    buffer, received = bytearray(), 0
                    async for chunk in body.iter_chunks(DOWNLOAD_CHUNK_BYTES):
                        received += len(chunk)
                        check_size(received, max_bytes)
                        buffer += chunk
                        if len(buffer) >= DOWNLOAD_CHUNK_BYTES:
                            await asyncio.to_thread(pending.write, bytes(buffer))
                            buffer.clear()
                    await asyncio.to_thread(pending.write, bytes(buffer))
                    return await asyncio.to_thread(pending.commit)
                except BaseException:
                    await asyncio.to_thread(pending.discard)
                    raise

    async def exists(self, key: str) -> bool:
        check_key(key)
        with translated("exists", key):
            try:
                await self._client.head_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if error_code(exc) in NOT_FOUND_CODES:
                    return False
                raise
        return True

    async def delete(self, key: str) -> None:
        check_key(key)
        with translated("delete", key):
            try:
                await self._client.delete_object(Bucket=self._bucket, Key=key)
            except ClientError as exc:
                if error_code(exc) not in NOT_FOUND_CODES:
                    raise

    def url(self, key: str) -> str:
        return s3_object_url(self._config, key)

    async def close(self) -> None:
        await self._stack.aclose()

    # --- internals -----------------------------------------------------------------------

    def _stored(self, key: str, size: int, content_type: str) -> StoredObject:
        return StoredObject(key=key, size_bytes=size, content_type=content_type, url=self.url(key))

    async def _check_bucket(self) -> None:
        shown = shown_key(self._bucket)
        with translated("check bucket", self._bucket):
            try:
                await self._client.head_bucket(Bucket=self._bucket)
            except ClientError as exc:
                code = error_code(exc)
                if code in BUCKET_MISSING_CODES:
                    raise NotConfiguredError(
                        f"S3 bucket {shown} does not exist: create it or set S3_BUCKET"
                    ) from exc
                if code in NOT_CONFIGURED_CODES:
                    raise NotConfiguredError(
                        f"S3 bucket {shown} is not accessible ({code}): check S3_REGION "
                        "and the credentials"
                    ) from exc
                raise

    async def _put_multipart(self, key: str, source: BinaryIO, size: int, content_type: str) -> int:
        created = await self._client.create_multipart_upload(
            Bucket=self._bucket, Key=key, ContentType=content_type
        )
        upload_id = created["UploadId"]
        try:
            parts, sent = await self._upload_parts(key, source, upload_id, size)
            await self._client.complete_multipart_upload(
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
        except BaseException:
            with suppress(Exception):
                await self._client.abort_multipart_upload(
                    Bucket=self._bucket, Key=key, UploadId=upload_id
                )
            raise
        return sent

    async def _upload_parts(
        self, key: str, source: BinaryIO, upload_id: str, size: int
    ) -> tuple[list[CompletedPartTypeDef], int]:
        part_bytes = part_size_bytes(size, self._config.s3_multipart_chunk_bytes)
        parts: list[CompletedPartTypeDef] = []
        sent = 0
        while chunk := await asyncio.to_thread(source.read, part_bytes):
            number = len(parts) + 1
            response = await self._client.upload_part(
                Bucket=self._bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk
            )
            parts.append({"ETag": response["ETag"], "PartNumber": number})
            sent += len(chunk)
        return parts, sent


async def _open_client(stack: AsyncExitStack, config: StorageConfig) -> S3Client:
    """The aioboto3 S3 client, entered on `stack` (closing the stack closes the client)."""
    key_id, secret = _credentials(config)
    session = aioboto3.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, region_name=config.s3_region
    )
    context = session.client(
        "s3",
        endpoint_url=config.s3_endpoint_url or None,
        region_name=config.s3_region,
        config=_client_config(config),
    )
    try:
        with translated("open", config.s3_bucket):
            return await stack.enter_async_context(context)
    except ValueError as exc:  # botocore: an endpoint URL it cannot parse
        raise NotConfiguredError(
            "S3 client cannot be created: check S3_ENDPOINT_URL and S3_REGION"
        ) from exc


def _credentials(config: StorageConfig) -> tuple[str | None, str | None]:
    """Explicit credentials, or (None, None) for boto's default chain (env, profile, role)."""
    key_id, secret = config.s3_access_key_id, config.s3_secret_access_key
    if key_id is None and secret is None:
        return None, None
    if key_id is None or secret is None:
        raise NotConfiguredError("set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither")
    return key_id.get_secret_value(), secret.get_secret_value()


def _client_config(config: StorageConfig) -> AioConfig:
    if config.s3_endpoint_url:
        # S3-compatible stores: path-style URLs (no per-bucket DNS), and checksums only where
        # the API requires them (several stores reject botocore's default CRC trailers).
        return AioConfig(
            retries={"max_attempts": 2, "mode": "standard"},
            connect_timeout=5,
            read_timeout=60,
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
    return AioConfig(
        retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=60
    )


def _file_size(source: BinaryIO) -> int:
    return os.fstat(source.fileno()).st_size
