"""Steps of analyze_photo: the image prepared in the CPU pool, the provider asked (once more
when its reply does not validate), every run kept as a `photo_analyses` version."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from decimal import Decimal

from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.db import photos as photos_db
from mediaworker.errors import MappedError, map_error
from mediaworker.functions.ai_common import image_limits
from mediaworker.functions.steps import scratch_dir
from mediaworker.metering import metered
from mediaworker.photos.analysis import PROMPT_VERSION, SCHEMA_VERSION
from mediaworker.pricing import cost_usd
from mediaworker.processing.photo import Prepared, prepare_for_analysis
from mediaworker.providers.base import Capability, PhotoAnalysis, PhotoAnalyzer
from mediaworker.providers.http_errors import InvalidReplyError
from mediaworker.queue.wrapper import current_run

NOT_ANALYSED = "none"  # the provider that analyses nothing (no key, no detector)
METHODS = {NOT_ANALYSED: "none", "local": "detector"}  # else a vision model
CALLS_PER_RUN = 2  # a reply that does not validate is asked for once more, at once


@dataclass
class Calls:
    """What the provider calls of one run consumed, and the replies that did not validate."""

    rejected: list[str] = field(default_factory=list)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal | None = None
    started: float = field(default_factory=time.perf_counter)

    def add(self, analyzer: PhotoAnalyzer, found: PhotoAnalysis | InvalidReplyError) -> None:
        usage = found.usage
        if usage is None:
            return
        self.input_tokens += usage.input_tokens or 0
        self.output_tokens += usage.output_tokens or 0
        cost = cost_usd(analyzer.provider, analyzer.model, usage)
        if cost is not None:
            self.cost_usd = (self.cost_usd or Decimal(0)) + cost


async def prepare(ctx: Context, media: media_db.Media) -> Prepared:
    """The original, upright, at most 1568 px on its long side, as a JPEG."""
    async with scratch_dir() as scratch:
        source = scratch / "original"
        await ctx.storage.download(media.storage_key, source)
        return await ctx.cpu.run(prepare_for_analysis, str(source), image_limits(ctx))


async def analyze(
    ctx: Context, analyzer: PhotoAnalyzer, media_id: str, image: Prepared, room_type: str | None
) -> tuple[PhotoAnalysis, photos_db.NewAnalysis]:
    """The provider's validated analysis and its run record; a failed run is recorded as a
    version with its error (and the replies kept), then the error goes on to the wrapper."""
    calls = Calls()
    try:
        found = await _ask(ctx, analyzer, image, room_type, calls)
    except Exception as exc:
        failed = _record(analyzer, analyzer.model, media_id, image, calls, None, map_error(exc))
        await photos_db.add_version(ctx.db, failed)
        raise
    return found, _record(analyzer, found.model, media_id, image, calls, found)


async def _ask(
    ctx: Context,
    analyzer: PhotoAnalyzer,
    image: Prepared,
    room_type: str | None,
    calls: Calls,
) -> PhotoAnalysis:
    async def call(a: PhotoAnalyzer) -> PhotoAnalysis:
        return await a.analyze(image.data, content_type=image.content_type, room_type=room_type)

    if analyzer.provider == NOT_ANALYSED:  # nothing is called, nothing is metered
        return await call(analyzer)
    for attempt in range(1, CALLS_PER_RUN + 1):
        try:
            found = await metered(ctx, Capability.ANALYSIS, analyzer, call)
        except InvalidReplyError as exc:
            calls.add(analyzer, exc)
            calls.rejected.append(exc.raw)
            if attempt == CALLS_PER_RUN:
                raise
            continue
        calls.add(analyzer, found)
        return found
    raise AssertionError("unreachable")


def _record(
    analyzer: PhotoAnalyzer,
    model: str,
    media_id: str,
    image: Prepared,
    calls: Calls,
    found: PhotoAnalysis | None,
    error: MappedError | None = None,
) -> photos_db.NewAnalysis:
    run = current_run()
    return photos_db.NewAnalysis(
        media_id=media_id,
        method=found.method if found else METHODS.get(analyzer.provider, "model"),
        provider=analyzer.provider,
        model=model,
        prompt_version=PROMPT_VERSION,
        schema_version=SCHEMA_VERSION,
        image={
            "width": image.width,
            "height": image.height,
            "bytes": len(image.data),
            "sha256": image.sha256,
        },
        raw_output=found.raw if found else (calls.rejected[-1] if calls.rejected else None),
        rejected_outputs=calls.rejected,
        result=found.result.model_dump(mode="json") if found else None,
        input_tokens=calls.input_tokens or None,
        output_tokens=calls.output_tokens or None,
        cost_usd=calls.cost_usd,
        latency_ms=int((time.perf_counter() - calls.started) * 1000),
        error_code=error.code.value if error else None,
        error_message=error.message if error else None,
        job_id=run.job_id if run else None,
    )
