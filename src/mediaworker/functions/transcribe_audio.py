"""transcribe_audio: the words of an audio or video upload, as a new transcription version.

Payload: TranscribePayload(media_id, language=None).
Side effects: one ai_metrics row per chunk sent; a `transcriptions` row: the next version,
source AUTO, active, the earlier automatic ones made inactive; text, language, segments (when
the provider gives them, with times in the whole recording), provider and model.
Long audio is sent in 16 kHz mono chunks below the provider's upload limit (OpenAI: 25 MB;
TRANSCRIPTION_MAX_UPLOAD_BYTES) and at most TRANSCRIPTION_CHUNK_S long; a chunk already
transcribed is not sent again when the job is retried or deferred (the kept chunk texts are
named by the media id and the file's SHA-256, and dropped once the row is written).
Idempotency: the job id names the row (registry.py): one run while the job or its kept result
exists; every run that completes adds a version (a forced rerun is a new transcription).
Retries: RATE_LIMIT, PROVIDER_DOWN, TIMEOUT, NETWORK, STORAGE; BAD_INPUT (no audio, unreadable)
and NOT_FOUND fail at once.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import transcriptions as transcriptions_db
from mediaworker.errors import BadInputError
from mediaworker.functions.ai_common import forget_parts, transcribe_file
from mediaworker.functions.audio_video import fetched_original, probe_file
from mediaworker.functions.steps import SOUND_KINDS, load_media
from mediaworker.payloads import TranscribePayload, TranscribeResult
from mediaworker.queue.wrapper import current_run


async def transcribe_audio(ctx: Context, payload: TranscribePayload) -> TranscribeResult:
    transcriber = ctx.providers.transcriber
    media = await load_media(ctx, payload.media_id, SOUND_KINDS)
    async with fetched_original(ctx, media) as original:
        probe = await probe_file(ctx, original)
        if probe.audio is None:
            raise BadInputError(f"media {media.id} has no audio track")
        heard = await transcribe_file(ctx, transcriber, media.id, original, probe, payload.language)

    run = current_run()
    row = await transcriptions_db.add_automatic(
        ctx.db,
        transcriptions_db.NewTranscription(
            media_id=media.id,
            text=heard.text,
            language=heard.language,
            segments=heard.segments or None,
            duration_s=probe.duration_s,
            provider=transcriber.provider,
            model=transcriber.model,
            job_id=run.job_id if run else None,
        ),
    )
    await forget_parts(ctx, heard)
    return TranscribeResult(
        media_id=media.id,
        version=row.version,
        text=row.text,
        language=row.language,
        chunks=heard.chunks,
        duration_s=probe.duration_s,
        provider=transcriber.provider,
        model=transcriber.model,
    )
