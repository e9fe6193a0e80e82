"""synthesize_speech: text to speech, stored once per phrase; returns the audio's URL.

Payload: SpeechPayload(text, voice=None, format="mp3", language=None, tts_job_id=None,
tts_claim_token=None).
Side effects: one ai_metrics row when the provider is called; the audio at
speech/{aa}/{hash}.{ext}, the hash of provider, model, voice, format, language and the
normalised text (NFC, whitespace collapsed): the same phrase is synthesized once and reused.
When the job came from a `tts_jobs` row, the row gets the URL (DONE) or the error (ERROR):
only a job with the token of the row's current claim (claim_tts_jobs) may finish it; any other
is refused with CONFLICT before any work, and the row stays as it is.
Idempotency: the job id names the phrase (client.enqueue_speech) or the tts_jobs row (the
cron), as registry.py rules; a stored phrase is returned without a provider call.
Retries: RATE_LIMIT, PROVIDER_DOWN, TIMEOUT, NETWORK, STORAGE; BAD_INPUT (too long, refused)
and NOT_CONFIGURED fail at once.
"""

from __future__ import annotations

from mediaworker.context import Context
from mediaworker.db import tts_jobs as tts_jobs_db
from mediaworker.errors import BadInputError, ConflictError
from mediaworker.ids import normalise_text, request_hash
from mediaworker.metering import metered
from mediaworker.payloads import SpeechPayload, SpeechResult
from mediaworker.processing.speech import SPEECH_ENCODINGS
from mediaworker.providers.base import Capability
from mediaworker.storage import layout


async def synthesize_speech(ctx: Context, payload: SpeechPayload) -> SpeechResult:
    synthesizer = ctx.providers.speech
    await _check_claim(ctx, payload)
    text = normalise_text(payload.text)
    limit = ctx.settings.providers.speech_max_chars
    if not text or len(text) > limit:
        raise BadInputError(f"text must have 1 to {limit} characters, it has {len(text)}")
    voice = payload.voice or synthesizer.default_voice
    _, _, content_type, ext = SPEECH_ENCODINGS[payload.format]
    digest = request_hash(
        synthesizer.provider, synthesizer.model, voice, payload.format, payload.language, text
    )
    key = layout.speech_key(digest, ext)
    cached = await ctx.storage.exists(key)
    size_bytes = None
    if not cached:
        audio = await metered(
            ctx,
            Capability.SPEECH,
            synthesizer,
            lambda s: s.synthesize(
                text, voice=voice, audio_format=payload.format, language=payload.language
            ),
            meta={"voice": voice, "format": payload.format},
        )
        stored = await ctx.storage.put(key, audio.data, content_type=audio.content_type)
        size_bytes = stored.size_bytes
    url = ctx.storage.url(key)
    if payload.tts_job_id is not None and payload.tts_claim_token is not None:
        done = await tts_jobs_db.mark_done(
            ctx.db, payload.tts_job_id, payload.tts_claim_token, audio_url=url, storage_key=key
        )
        if not done:
            raise _not_claimed(payload.tts_job_id)
    return SpeechResult(
        storage_key=key,
        url=url,
        content_type=content_type,
        size_bytes=size_bytes,
        provider=synthesizer.provider,
        model=synthesizer.model,
        voice=voice,
        cached=cached,
    )


async def _check_claim(ctx: Context, payload: SpeechPayload) -> None:
    if payload.tts_job_id is None or payload.tts_claim_token is None:
        return
    if not await tts_jobs_db.holds_claim(ctx.db, payload.tts_job_id, payload.tts_claim_token):
        raise _not_claimed(payload.tts_job_id)


def _not_claimed(row_id: int) -> ConflictError:
    return ConflictError(f"tts_jobs row {row_id} is not claimed by this job: left untouched")
