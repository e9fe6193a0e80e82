"""POST /v1/jobs/{function}: one route per job the registry lets out (`external`), so the
OpenAPI schema shows each job's payload exactly.

The body is the payload's fields plus the options `job_id`, `priority`, `defer_s` and
`webhook_url` (no payload uses those names). 202 with the job when it is enqueued now; 200
with the existing job when its id is known (never a second run); 422 with the field errors
for an invalid payload; 404 for a function the registry does not let out.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Response, status
from pydantic import AnyHttpUrl, BaseModel, Field, create_model

from mediaworker.errors import NotFoundError
from mediaworker.ids import JOB_ID_PATTERN
from mediaworker.payloads import Payload
from mediaworker.queue.ledger import Submitted
from mediaworker.queue.priorities import MAX_PRIORITY
from mediaworker.queue.submit import submit_job
from mediaworker.registry import JobDeclaration
from mediaworker.web.auth import Producer
from mediaworker.web.schemas import JobView
from mediaworker.web.services import Services, ServicesDep

MAX_DEFER_S = 30 * 86400
OPTIONS: dict[str, Any] = {
    "job_id": (
        str | None,
        Field(None, pattern=JOB_ID_PATTERN, description="Default: the job's own id rule"),
    ),
    "priority": (
        int | None,
        Field(None, ge=0, le=MAX_PRIORITY, description="Lower runs first; default: the job's"),
    ),
    "defer_s": (float | None, Field(None, ge=0, le=MAX_DEFER_S, description="Run after this")),
    "webhook_url": (
        AnyHttpUrl | None,
        Field(None, description="POSTed a signed event when the job ends"),
    ),
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"model": JobView, "description": "A job with this id exists: it is returned as it is"},
    404: {"description": "No such function (or not one that may be enqueued from outside)"},
    422: {"description": "The payload does not fit the job's model: the field errors"},
}


def request_model(job: JobDeclaration) -> type[Payload]:
    """The job's payload model with the enqueue options beside its fields."""
    model = create_model(f"{job.payload.__name__}Request", __base__=job.payload, **OPTIONS)
    return model  # type: ignore[return-value]  # a subclass of the payload model


async def submit(services: Services, job: JobDeclaration, body: BaseModel) -> Submitted:
    options = {name: getattr(body, name) for name in OPTIONS}
    webhook_url = options["webhook_url"]
    return await submit_job(
        services.db,
        services.redis,
        job.name,
        # validated already, as the request model (a subclass): not validated twice
        job.payload.model_construct(**body.model_dump(exclude=set(OPTIONS))),
        job_id=options["job_id"],
        priority=options["priority"],
        defer_s=options["defer_s"],
        webhook_url=None if webhook_url is None else str(webhook_url),
        external=True,
    )


def endpoint(job: JobDeclaration) -> Callable[..., Awaitable[Response]]:
    model = request_model(job)

    async def enqueue_job(services: ServicesDep, body: Any) -> Response:
        submitted = await submit(services, job, body)
        code = status.HTTP_202_ACCEPTED if submitted.created else status.HTTP_200_OK
        # JobView is built (and validated) once; the route's response_model is for OpenAPI
        view = JobView.of(submitted.job).model_dump_json()
        return Response(view, code, media_type="application/json")

    # The body's model is made here, so its annotation cannot be a name FastAPI looks up.
    enqueue_job.__annotations__["body"] = Annotated[model, Body()]
    enqueue_job.__name__ = f"enqueue_{job.name}"
    return enqueue_job


async def unknown_function(function: str) -> None:
    raise NotFoundError(f"no job named {function[:60]!r}")


def router_for(jobs: Iterable[JobDeclaration]) -> APIRouter:
    """The enqueue routes, one per external job: included first, they are matched first."""
    router = APIRouter(prefix="/v1/jobs", tags=["enqueue"], dependencies=[Producer])
    for job in jobs:
        if job.external:
            router.add_api_route(
                f"/{job.name}",
                endpoint(job),
                methods=["POST"],
                status_code=status.HTTP_202_ACCEPTED,
                response_model=JobView,
                responses=RESPONSES,
                summary=f"Enqueue {job.name}",
                description=(job.payload.__doc__ or "").strip() or None,
            )
    return router


def unknown_function_router() -> APIRouter:
    """Any other POST /v1/jobs/{name}: 404. Included last, after /v1/jobs/retry-failed."""
    router = APIRouter(prefix="/v1/jobs", dependencies=[Producer])
    router.add_api_route("/{function}", unknown_function, methods=["POST"], include_in_schema=False)
    return router
