"""mediaworker: an asyncio-native background worker for media and AI jobs, built on arq.

`arq mediaworker.WorkerSettings` runs the worker; producers use `mediaworker.client`.
"""

from __future__ import annotations

from typing import Any

__all__ = ["WorkerSettings"]


def __getattr__(name: str) -> Any:
    # Imported on first use so that `import mediaworker.client` does not read the environment.
    if name == "WorkerSettings":
        from mediaworker.settings import WorkerSettings

        return WorkerSettings
    raise AttributeError(name)
