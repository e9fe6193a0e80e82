"""A multipart upload streamed to a temporary file, never held in memory.

The one file part (`file`) goes chunk by chunk to disk; small text fields (`category`) are
kept, each at most MAX_FIELD_BYTES. The body as a whole is capped by the API's body limit
(limits.py, API_MAX_UPLOAD_BYTES), so an upload over it stops before it fills the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fastapi import HTTPException, Request
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header

MAX_FIELD_BYTES = 1024
MAX_FILENAME_CHARS = 255
FILE_FIELD = "file"


@dataclass
class Upload:
    path: Path
    filename: str = "upload"
    content_type: str = "application/octet-stream"
    size_bytes: int = 0
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    is_file: bool = False
    text: bytearray = field(default_factory=bytearray)


class _Receiver:
    """python-multipart callbacks: headers and fields in memory, file bytes queued for disk."""

    def __init__(self, upload: Upload) -> None:
        self.upload = upload
        self.part = _Part()
        self.header = (bytearray(), bytearray())
        self.chunks: list[bytes] = []
        self.files_seen = 0

    def callbacks(self) -> dict[str, object]:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self.header[0].extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header[1].extend(d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.part = _Part()

    def header_end(self) -> None:
        name, value = self.header
        self.part.headers[bytes(name).lower()] = bytes(value)
        self.header = (bytearray(), bytearray())

    def headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = options.get(b"filename")
        self.part.is_file = filename is not None and self.part.name == FILE_FIELD
        if filename is not None and self.part.is_file:
            self.files_seen += 1
            if self.files_seen > 1:
                raise HTTPException(400, "send one file per upload")
            self.upload.filename = _clean_filename(filename.decode("utf-8", "replace"))
            content_type = self.part.headers.get(b"content-type", b"").decode("latin-1")
            self.upload.content_type = (
                content_type.split(";")[0].strip() or "application/octet-stream"
            )

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.is_file:
            self.chunks.append(data[start:end])
            self.upload.size_bytes += end - start
            return
        self.part.text.extend(data[start:end])
        if len(self.part.text) > MAX_FIELD_BYTES:
            raise HTTPException(400, f"form field {self.part.name[:40]!r} is too long")

    def part_end(self) -> None:
        if not self.part.is_file and self.part.name:
            self.upload.fields[self.part.name[:40]] = self.part.text.decode("utf-8", "replace")


def _clean_filename(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip().replace("\x00", "")
    return base[:MAX_FILENAME_CHARS] or "upload"


@contextlib.asynccontextmanager
async def receive_upload(request: Request) -> AsyncIterator[Upload]:
    """The upload in a temporary file, removed when the block ends."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise HTTPException(415, "send the file as multipart/form-data, in a part named 'file'")
    with tempfile.TemporaryDirectory(prefix="mediaworker-upload-") as folder:
        upload = Upload(Path(folder) / "upload")
        receiver = _Receiver(upload)
        parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
        try:
            with upload.path.open("wb") as out:
                async for chunk in request.stream():
                    parser.write(chunk)
                    if receiver.chunks:
                        await asyncio.to_thread(_write_all, out, receiver.chunks)
                        receiver.chunks = []
                parser.finalize()
        except FormParserError:
            raise HTTPException(400, "the multipart body is malformed") from None
        if receiver.files_seen == 0:
            raise HTTPException(400, "no file: send it in a part named 'file'")
        yield upload


def _write_all(out: IO[bytes], chunks: list[bytes]) -> None:
    for chunk in chunks:
        out.write(chunk)
