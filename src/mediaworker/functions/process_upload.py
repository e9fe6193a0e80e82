"""process_upload: the one job a producer enqueues after an upload; it decides what follows.

Payload: ProcessUploadPayload(media_id, force=False).
Side effects, by what the upload is:
- an image by its declared type: thumbnails at priority 5. No download, no probe: the image
  decoder of `generate_thumbnails` checks the file and refuses what is not an image.
- anything else: the original is probed (ffprobe, format and protocol whitelists); the kind
  the content shows (an MP3 with cover art is AUDIO), the facts (duration, codecs, streams,
  rotation, upright size, sample rate, channels, the probe) and the derivative types to
  expect are written on the row, which is PROCESSING; then, lower numbers running first:
  AUDIO  waveform 15 (and transcription 5 once it exists: see TRANSCRIPTION below)
  VIDEO  preview 10, poster frame 10, waveform of its audio track 15 (when it has one)
  A file ffprobe sees as an image goes to thumbnails, and so does a file of unknown type
  that ffprobe cannot read at all (libvips reads HEIC, AVIF, TIFF). Everything else (a
  playlist or list file, a corrupt, empty, too long or too short file) is BAD_INPUT.
The row becomes READY when the last expected derivative is stored (db/media_facts.py).
Idempotency: one job per media row (registry.PROCESS_UPLOAD); a rerun of a probed upload
enqueues its jobs again without probing (their ids dedupe, and each skips work already done);
`force` probes again and forces every job.
Retries: STORAGE, NETWORK, TIMEOUT retried with backoff; BAD_INPUT, NOT_FOUND fail at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from mediaworker import client, registry
from mediaworker.context import Context
from mediaworker.db import media as media_db
from mediaworker.db import media_facts
from mediaworker.db.media import Media, MediaKind, MediaStatus
from mediaworker.functions import audio_video as av
from mediaworker.functions.audio_video import PREVIEW_TYPES, WAVEFORM_TYPES
from mediaworker.functions.enhance_image import auto_enhance
from mediaworker.functions.steps import THUMBNAIL_TYPES, load_media
from mediaworker.payloads import (
    EnqueuedJob,
    ProcessUploadPayload,
    ProcessUploadResult,
)
from mediaworker.processing.probe import NotMediaError


@dataclass(frozen=True)
class Step:
    job: registry.JobDeclaration  # its function, payload, id rule and priority
    produces: tuple[str, ...]  # derivative types; the row is READY once all exist
    needs_audio: bool = False


THUMBNAILS = Step(registry.GENERATE_THUMBNAILS, tuple(THUMBNAIL_TYPES))
PREVIEW = Step(registry.GENERATE_VIDEO_PREVIEW, tuple(PREVIEW_TYPES))
POSTER = Step(registry.GENERATE_VIDEO_THUMBNAIL, tuple(THUMBNAIL_TYPES))
WAVEFORM = Step(registry.GENERATE_WAVEFORM, tuple(WAVEFORM_TYPES), needs_audio=True)
TRANSCRIPTION_PRIORITY = 5
ENHANCEMENT_PRIORITY = 10
PLANS: dict[str, tuple[Step, ...]] = {
    MediaKind.IMAGE: (THUMBNAILS,),
    MediaKind.AUDIO: (WAVEFORM,),
    MediaKind.VIDEO: (PREVIEW, POSTER, WAVEFORM),
}


@dataclass(frozen=True)
class Classified:
    kind: str
    has_audio: bool
    facts: media_facts.MediaFacts | None = None  # None: nothing new to record


async def process_upload(ctx: Context, payload: ProcessUploadPayload) -> ProcessUploadResult:
    media = await load_media(ctx, payload.media_id)
    found = await classify(ctx, media, force=payload.force)
    steps = [s for s in PLANS[found.kind] if found.has_audio or not s.needs_audio]
    expected = sorted({kind for step in steps for kind in step.produces})
    if found.facts is not None:
        await media_facts.record_facts(ctx.db, media.id, found.facts, expected)
    elif media.status == MediaStatus.ERROR and found.kind != MediaKind.IMAGE:
        await media_db.mark_processing(ctx.db, media.id)  # a new try of a failed upload
    enqueued = []
    for step in steps:
        work = {"media_id": media.id, "force": payload.force}
        # force: a kept result of an earlier run never blocks the job (it skips done work)
        job = await registry.enqueue(ctx.redis, step.job.name, work, force=True)
        enqueued.append(_enqueued(step.job, job.job_id, step.job.priority))
    if found.kind == MediaKind.AUDIO and ctx.settings.media.transcribe_uploads:
        enqueued.append(await _enqueue_transcription(ctx, media.id, force=payload.force))
    if found.kind == MediaKind.IMAGE and auto_enhance(ctx.settings, media.category):
        enqueued.append(await _enqueue_enhancement(ctx, media.id, force=payload.force))
    facts = found.facts
    return ProcessUploadResult(
        media_id=media.id,
        kind=found.kind,
        duration_s=facts.duration_s if facts else media.duration_s,
        expected_derivatives=expected if found.kind != MediaKind.IMAGE else None,
        enqueued=enqueued,
    )


async def _enqueue_transcription(ctx: Context, media_id: str, *, force: bool) -> EnqueuedJob:
    """A transcript for an audio upload (UPLOAD_TRANSCRIBE). Not a derivative: READY does not
    wait for it, and its failure does not mark the upload ERROR (it has no on_failure hook)."""
    job = await client.enqueue_transcription(
        ctx.redis, media_id, force=force, priority=TRANSCRIPTION_PRIORITY
    )
    return _enqueued(registry.TRANSCRIBE_AUDIO, job.job_id, TRANSCRIPTION_PRIORITY)


async def _enqueue_enhancement(ctx: Context, media_id: str, *, force: bool) -> EnqueuedJob:
    """An enhanced copy of an image of an AUTO_ENHANCE_CATEGORIES category: a new media row,
    so READY does not wait for it and its failure does not mark the upload ERROR."""
    job = await client.enqueue_enhance_image(
        ctx.redis, media_id, force=force, priority=ENHANCEMENT_PRIORITY
    )
    return _enqueued(registry.ENHANCE_IMAGE, job.job_id, ENHANCEMENT_PRIORITY)


def _enqueued(job: registry.JobDeclaration, job_id: str, priority: int) -> EnqueuedJob:
    return EnqueuedJob(function=job.name, job_id=job_id, priority=priority)


async def classify(ctx: Context, media: Media, *, force: bool) -> Classified:
    """What the upload is: its declared image type, the probe recorded earlier, or a probe."""
    if media.kind == MediaKind.IMAGE:
        return Classified(MediaKind.IMAGE, has_audio=False)
    if media.probe is not None and media.kind in PLANS and not force:
        return Classified(media.kind, has_audio=bool(media.has_audio))
    try:
        async with av.fetched_original(ctx, media) as original:
            probe = await av.probe_file(ctx, original)
    except NotMediaError as exc:
        if exc.image:
            await media_facts.set_kind(ctx.db, media.id, MediaKind.IMAGE)
        elif media.kind != MediaKind.UNKNOWN or exc.refused is not None:
            raise
        return Classified(MediaKind.IMAGE, has_audio=False)  # the image decoder decides
    facts = av.facts_of(probe)
    return Classified(facts.kind, has_audio=facts.has_audio, facts=facts)
