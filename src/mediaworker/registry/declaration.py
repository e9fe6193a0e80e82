"""The form of a job's declaration (registry/jobs.py holds them): what a job is called, what it
takes and returns, how its id is ruled, its priority, timeout and failure hook, and for a cron
job its schedule."""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from mediaworker.errors import BadInputError, MappedError, map_error
from mediaworker.ids import validate_job_id
from mediaworker.payloads import Payload, Result
from mediaworker.queue.priorities import DEFAULT_PRIORITY

if TYPE_CHECKING:
    from mediaworker.config import Settings
    from mediaworker.context import Context

OnFailure = Callable[["Context", Any, MappedError], Awaitable[None]]
_FORMATTER = string.Formatter()


def fixed_s(seconds: float) -> Callable[[Settings], float]:
    """A timeout that no setting changes."""
    return lambda _settings: seconds


@dataclass(frozen=True, kw_only=True)
class CronSchedule:
    """When arq runs a cron job, as arq's `cron()` spells it, and the options of each run.

    Fields left None match every value; a frozenset matches each of its values.
    """

    minute: int | frozenset[int] | None = None
    second: int | frozenset[int] = 0
    unique: bool = True  # one run per tick across all workers
    run_at_startup: bool = False
    arq_timeout_s: float = 90  # arq's limit; the job's own (timeout_s) is inside it
    keep_result_s: float = 60


@dataclass(frozen=True, kw_only=True)
class JobDeclaration:
    name: str  # the function name arq runs
    payload: type[Payload]
    result: type[Result]
    job_id: tuple[str, ...]  # templates over the payload; the first whose fields are all set
    timeout_s: Callable[[Settings], float]  # of one attempt
    priority: int = DEFAULT_PRIORITY  # lower runs first
    on_failure: OnFailure | None = None  # called once the job has failed for good
    external: bool = True  # may be enqueued from outside (HTTP API, `mediaworker enqueue`)
    cron: CronSchedule | None = None  # run on this schedule (settings.py), not enqueued

    def validate(self, payload: Payload | Mapping[str, Any]) -> Payload:
        """The payload as this job's model; BadInputError (BAD_INPUT) when it does not fit."""
        if isinstance(payload, self.payload):
            return payload
        fields = payload.model_dump() if isinstance(payload, Payload) else payload
        try:
            return self.payload.model_validate(fields)
        except ValidationError as exc:
            raise BadInputError(map_error(exc).message) from exc

    def job_id_for(self, fields: Payload | Mapping[str, Any]) -> str:
        """The job id the rule gives `fields` (a payload, or a mapping of its fields)."""
        get = fields.get if isinstance(fields, Mapping) else lambda name: getattr(fields, name)
        for template in self.job_id:
            names = [n for _, n, _, _ in _FORMATTER.parse(template) if n]
            values = {n: get(n) for n in names}
            if all(v is not None for v in values.values()):
                return validate_job_id(template.format(**values))
        raise BadInputError(f"{self.name}: the payload names no job id")
