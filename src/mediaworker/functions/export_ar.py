"""export_ar: a poster or a mug with an image media row's design, as GLB, USDZ and a still.

Payload: ArExportPayload(media_id, product "poster" | "mug", width_m=None, handle=True,
force=False); width_m is the poster's width or the mug's diameter (defaults 0.5 m, 0.082 m).
Side effects: three objects at media/{id}/{id}-{type}.{glb,usdz,png} and three
media_derivatives rows upserted, typed per product (GLB_POSTER, USDZ_POSTER, AR_POSTER_POSTER;
GLB_MUG, USDZ_MUG, AR_POSTER_MUG), so one product's export never replaces another's. The
media row itself is not changed, not even when the export fails.
Idempotency: the job id names the row and product (registry.py: `ar-{media_id}-{product}`);
a run that finds the product's three
derivatives returns them without work, unless `force` (a new width needs `force`).
Retries: STORAGE, TIMEOUT retried with backoff; BAD_INPUT (a row that is not an image, a file
that is not one, too large), NOT_FOUND and NOT_CONFIGURED (no usd-core) fail at once.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import derivatives as derivatives_db
from mediaworker.functions.ai_common import image_limits, load_image
from mediaworker.functions.steps import already_done, scratch_dir, store_renditions
from mediaworker.payloads import ArExportPayload, ArExportResult
from mediaworker.processing.ar_export import ArExport, ArSpec, make_ar_export
from mediaworker.processing.image import Rendition
from mediaworker.storage import layout


async def export_ar(ctx: Context, payload: ArExportPayload) -> ArExportResult:
    media = await load_image(ctx, payload.media_id)
    width_m = payload.width_or_default_m
    base = {"media_id": media.id, "product": payload.product, "width_m": width_m, "size_m": None}
    types = [layout.ar_derivative_type(output, payload.product) for output in layout.AR_FORMATS]
    done = await already_done(ctx, media.id, [t.value for t in types])
    if done is not None and not payload.force:
        return ArExportResult.model_validate({**base, "skipped": True, "derivatives": done})

    config = ctx.settings.ar
    spec = ArSpec(payload.product, width_m, payload.handle, config.texture_max_px, config.still_px)
    async with scratch_dir() as scratch:
        source = scratch / "original"
        await ctx.storage.download(media.storage_key, source)
        exported = await ctx.cpu.run(make_ar_export, str(source), spec, image_limits(ctx))

    derivatives = await store_renditions(ctx, media.id, _renditions(exported))
    await derivatives_db.upsert(ctx.db, media.id, derivatives)
    return ArExportResult.model_validate(
        {**base, "skipped": False, "size_m": list(exported.size_m), "derivatives": derivatives}
    )


def _renditions(exported: ArExport) -> tuple[Rendition, ...]:
    """The three files as renditions; a GLB's or USDZ's width and height are its texture's."""
    texture = (exported.texture_width, exported.texture_height)
    files = {
        "glb": (exported.glb, texture),
        "usdz": (exported.usdz, texture),
        "still": (exported.still_png, (exported.still_px, exported.still_px)),
    }
    renditions = []
    for output, (data, (width, height)) in files.items():
        _, content_type, ext = layout.AR_FORMATS[output]
        kind = layout.ar_derivative_type(output, exported.product)
        renditions.append(Rendition(kind.value, data, width, height, content_type, ext))
    return tuple(renditions)
