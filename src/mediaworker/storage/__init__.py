"""Where originals and derivatives live: one Protocol, a local-disk and an S3 backend.

`open_storage(config)` builds the configured backend once per worker process; `close()` it on
shutdown. Job code sees only `Storage`, `StoredObject` and our errors.
"""

from __future__ import annotations

from mediaworker.config import StorageConfig, StorageType
from mediaworker.storage.base import Storage, StoredObject, check_key
from mediaworker.storage.local import LocalStorage
from mediaworker.storage.s3 import S3Storage

__all__ = ["LocalStorage", "S3Storage", "Storage", "StoredObject", "check_key", "open_storage"]


async def open_storage(config: StorageConfig) -> Storage:
    """The backend STORAGE_TYPE names, ready to use.

    Local: creates WORKER_STORAGE_PATH. S3: creates the client and checks that the bucket
    exists (it is never created here); a missing bucket or refused access raises
    `NotConfiguredError`, an unreachable endpoint `StorageError`.
    """
    if config.type == StorageType.S3:
        return await S3Storage.open(config)
    return await LocalStorage.open(config)
