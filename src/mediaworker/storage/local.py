"""Local-disk storage: one directory tree under WORKER_STORAGE_PATH.

All file I/O runs in a thread (`asyncio.to_thread`), never on the event loop. Writes are
atomic: a temporary file beside the target, flushed and fsynced, then `os.replace`d, so a
reader sees the old object or the new one, never half of either. Every key is checked with
`check_key()`, and its resolved path (symlinks followed) must stay inside the root.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from types import TracebackType
from typing import BinaryIO, ParamSpec, TypeVar

from mediaworker.config import StorageConfig
from mediaworker.errors import (
    BadInputError,
    MediaWorkerError,
    NotConfiguredError,
    NotFoundError,
    StorageError,
)
from mediaworker.storage.base import (
    StoredObject,
    check_content_type,
    check_key,
    check_size,
    shown_key,
)

COPY_CHUNK_BYTES = 1024 * 1024
FILE_MODE = 0o644
TEMP_PREFIX = ".tmp-"
TEMP_SUFFIX = ".part"

P = ParamSpec("P")
T = TypeVar("T")


class PendingFile:
    """A temporary file beside `target` that replaces it on `commit()`, or vanishes.

    Synchronous: call it from a thread. Also used by the S3 backend's `download()`.
    """

    def __init__(self, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=TEMP_PREFIX, suffix=TEMP_SUFFIX)
        self.target = target
        self.temp_path = Path(name)
        self.file: BinaryIO = os.fdopen(fd, "wb")

    def write(self, data: bytes) -> None:
        self.file.write(data)

    def commit(self, *, durable: bool = True) -> int:
        """Flush, fsync (unless a scratch copy) and move into place; the size in bytes."""
        self.file.flush()
        if durable:
            os.fsync(self.file.fileno())
        size = self.file.tell()
        self.file.close()
        os.chmod(self.temp_path, FILE_MODE)
        os.replace(self.temp_path, self.target)
        return size

    def discard(self) -> None:
        with suppress(OSError):
            self.file.close()
        with suppress(FileNotFoundError):
            self.temp_path.unlink()

    def __enter__(self) -> PendingFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self.discard()


def open_source(path: Path) -> BinaryIO:
    """Open a local input file for reading; `NotFoundError` when it is missing."""
    try:
        return path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise NotFoundError(f"local file {shown_key(str(path))} not found") from None


def translate_os_error(exc: OSError, op: str, key: str) -> MediaWorkerError:
    """Our error for a disk error met while doing `op` on `key`."""
    shown = shown_key(key)
    missing = (FileNotFoundError, IsADirectoryError, NotADirectoryError)
    if op == "get" and isinstance(exc, missing):
        return NotFoundError(f"storage key {shown} not found")
    if op == "put" and isinstance(exc, (*missing, FileExistsError)):
        return BadInputError(f"storage key {shown} conflicts with an existing object or prefix")
    if isinstance(exc, PermissionError):
        return NotConfiguredError(f"local storage {op} {shown}: permission denied")
    reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
    return StorageError(f"local storage {op} {shown} failed: {reason}")


class LocalStorage:
    name = "local"

    def __init__(self, root: Path, *, base_url: str | None = None) -> None:
        self.root = root  # absolute, symlinks resolved
        self._base_url = base_url.rstrip("/") if base_url else None

    @classmethod
    async def open(cls, config: StorageConfig) -> LocalStorage:
        try:
            root = await asyncio.to_thread(_make_root, config.path)
        except OSError as exc:
            reason = errno.errorcode.get(exc.errno or 0, type(exc).__name__)
            raise NotConfiguredError(
                f"WORKER_STORAGE_PATH {shown_key(str(config.path))} is not usable: {reason}"
            ) from exc
        return cls(root, base_url=config.base_url)

    async def put(self, key: str, data: bytes, *, content_type: str) -> StoredObject:
        check_key(key)
        check_content_type(content_type)
        size = await self._io("put", key, self._write_bytes, key, data)
        return StoredObject(key=key, size_bytes=size, content_type=content_type, url=self.url(key))

    async def put_file(self, key: str, path: Path, *, content_type: str) -> StoredObject:
        check_key(key)
        check_content_type(content_type)
        size = await self._io("put", key, self._copy_in, key, path)
        return StoredObject(key=key, size_bytes=size, content_type=content_type, url=self.url(key))

    async def get(self, key: str) -> bytes:
        check_key(key)
        return await self._io("get", key, self._read_bytes, key)

    async def download(self, key: str, dest: Path, *, max_bytes: int | None = None) -> int:
        check_key(key)
        return await self._io("download", key, self._copy_out, key, dest, max_bytes)

    async def exists(self, key: str) -> bool:
        check_key(key)
        return await self._io("exists", key, self._is_file, key)

    async def delete(self, key: str) -> None:
        check_key(key)
        await self._io("delete", key, self._unlink, key)

    def url(self, key: str) -> str:
        check_key(key)
        if self._base_url is not None:
            return f"{self._base_url}/{key}"
        return (self.root / key).as_uri()

    async def close(self) -> None:
        return None

    # --- everything below runs in a worker thread --------------------------------------

    async def _io(
        self, op: str, key: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except OSError as exc:
            raise translate_os_error(exc, op, key) from exc

    def _path(self, key: str) -> Path:
        """The resolved path of `key`; `BadInputError` if it leaves the root (symlinks)."""
        resolved = Path(os.path.realpath(self.root / key))
        if not resolved.is_relative_to(self.root) or resolved == self.root:
            raise BadInputError(f"storage key {shown_key(key)} resolves outside the storage root")
        return resolved

    def _write_bytes(self, key: str, data: bytes) -> int:
        with PendingFile(self._path(key)) as pending:
            pending.write(data)
            return pending.commit()

    def _copy_in(self, key: str, source: Path) -> int:
        with open_source(source) as src, PendingFile(self._path(key)) as pending:
            shutil.copyfileobj(src, pending.file, COPY_CHUNK_BYTES)
            return pending.commit()

    def _read_bytes(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def _copy_out(self, key: str, dest: Path, max_bytes: int | None) -> int:
        """A hard link when `dest` is on the same file system (no copy: jobs only read their
        originals, and a later `put` replaces the stored file, not the linked one), else a copy.
        Neither is fsynced: `dest` is a scratch file. The size is checked first."""
        try:
            source = self._path(key)
            size = source.stat().st_size
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise NotFoundError(f"storage key {shown_key(key)} not found") from None
        check_size(size, max_bytes)
        if _link(source, dest):
            return size
        with source.open("rb") as src, PendingFile(dest) as pending:
            shutil.copyfileobj(src, pending.file, COPY_CHUNK_BYTES)
            return pending.commit(durable=False)

    def _is_file(self, key: str) -> bool:
        return self._path(key).is_file()

    def _unlink(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            return  # a prefix, not an object: nothing to delete
        with suppress(FileNotFoundError):
            path.unlink()


def _link(source: Path, dest: Path) -> bool:
    """Hard-link `source` at `dest` (replacing it); False where links cannot be made."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    temp = dest.with_name(f"{TEMP_PREFIX}{dest.name}{TEMP_SUFFIX}")
    try:
        os.link(source, temp)
    except OSError:  # another file system (EXDEV), or links not allowed
        return False
    os.replace(temp, dest)
    return True


def _make_root(path: Path) -> Path:
    path = path.expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve(strict=True)
