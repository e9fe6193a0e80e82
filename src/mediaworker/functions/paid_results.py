"""Paid provider results kept per job enqueue: a rerun of the same job never pays twice.

A provider call that costs money (an image generation) is made at most once per enqueue of a
job, named by its job id and enqueue time. Its result goes to Redis right after the call,
before anything that can still fail (encoding, storage, the database); any later run of the
same enqueue takes it from there instead of calling again:

- a retry after a STORAGE or NETWORK failure that came after the call;
- a rerun after a worker was killed, or after its lease lapsed, once the call had returned.

Keyed by enqueue, not by attempt number: a rerun is counted as a new attempt (job_runs), and
it is exactly the rerun that must not pay. A forced rerun is a new enqueue and pays again, as
asked. Two runs in flight at the same moment can both pay; the lease, renewed apart from the
database (queue/tracking.py), keeps a running job from being run a second time.

Redis rather than Postgres: the result is bytes (an image of a few MB) needed only while the
job can still be rerun, so it expires on its own (PAID_RESULT_TTL_S) and never bloats a table;
if Redis loses it, the worst case is the second payment this module saves in every other case.
Outside a job (no current run), or for an offline provider, the call is simply made.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgpack

from mediaworker.context import Context
from mediaworker.providers.base import ImageResult, Usage
from mediaworker.queue import keys
from mediaworker.queue.wrapper import current_run


async def image_once(
    ctx: Context, step: str, call: Callable[[], Awaitable[ImageResult]], *, paid: bool
) -> ImageResult:
    """`await call()` once per job enqueue and `step`; a rerun gets the first result back
    (with empty usage: the call was metered when it was made). A call that is not `paid` (an
    offline provider) is simply made: keeping its image would cost more than making it."""
    run = current_run()
    if run is None or not paid:
        return await call()
    enqueued_ms = int(run.enqueued_at.timestamp() * 1000)
    key = keys.paid_result_key(run.job_id, enqueued_ms, step)
    found = await ctx.redis.get(key)
    if found is not None:
        return _image_from(found)
    image = await call()
    await ctx.redis.set(key, _image_bytes(image), ex=keys.PAID_RESULT_TTL_S)
    return image


def _image_bytes(image: ImageResult) -> bytes:
    fields = {
        "data": image.data,
        "content_type": image.content_type,
        "synthetic": image.synthetic,
        "width": image.width,
        "height": image.height,
    }
    packed: bytes = msgpack.packb(fields, use_bin_type=True)
    return packed


def _image_from(raw: bytes) -> ImageResult:
    fields = msgpack.unpackb(raw, raw=False)
    return ImageResult(
        data=fields["data"],
        content_type=fields["content_type"],
        usage=Usage(),
        synthetic=fields["synthetic"],
        width=fields["width"],
        height=fields["height"],
    )
