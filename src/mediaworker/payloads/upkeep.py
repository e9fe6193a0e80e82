"""The queue's own jobs: the reconcilers, retention, webhook delivery."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from mediaworker.payloads.base import Payload, Result


class ReconcilePayload(Payload):
    pass


class ReconcileResult(Result):
    requeued: list[str]


class ReconcileJobsResult(Result):
    requeued: list[str] = Field(description="ledger jobs Redis had lost, enqueued again")


class PruneHistoryResult(Result):
    """Rows removed by retention (queue/retention.py)."""

    succeeded: int
    failed: int
    cancelled: int
    job_runs: int
    ai_metrics: int


class DeliverWebhookPayload(Payload):
    webhook_id: Annotated[str, Field(pattern=r"^msg_[0-9a-f]{32}$")]


class DeliverWebhookResult(Result):
    webhook_id: str
    delivered: bool
    skipped: bool = Field(description="True when an earlier try had delivered it already")
    status_code: int | None
    attempts: int
