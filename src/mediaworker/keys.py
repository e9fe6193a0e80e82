"""Every Redis key, storage key layout, job id and metric name, in one place, with lifetimes.

Ids that reach a key or a path are validated here: `validate_id()` refuses anything that is
not a short run of letters, digits, `-` and `_` (a UUID passes; `../etc` does not).
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from enum import StrEnum

from mediaworker.errors import BadInputError
from mediaworker.payloads import ID_PATTERN

# --- ids -----------------------------------------------------------------------------------

_ID_RE = re.compile(ID_PATTERN)
_EXT_RE = re.compile(r"^[a-z0-9]{1,8}$")


def validate_id(value: str, *, what: str = "media_id") -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        shown = repr(value)[:40]
        raise BadInputError(f"{what} {shown} is not valid: use 1-128 letters, digits, '-' or '_'")
    return value


# --- arq (its own prefixes live in arq.constants; the queue name is ours) ------------------

QUEUE_NAME = "arq:queue"  # arq's default: producers using plain arq land on the same queue
HEALTH_CHECK_KEY = f"{QUEUE_NAME}:health-check"
ARQ_IN_PROGRESS_PREFIX = "arq:in-progress:"  # mirrors arq.constants; refreshed by our heartbeat
ARQ_RESULT_PREFIX = "arq:result:"
ARQ_JOB_PREFIX = "arq:job:"


def in_progress_key(job_id: str) -> str:
    return ARQ_IN_PROGRESS_PREFIX + job_id


def result_key(job_id: str) -> str:
    return ARQ_RESULT_PREFIX + job_id


# --- our Redis keys ------------------------------------------------------------------------

PREFIX = "mediaworker:"
# Hashes {function name: count}; never expire (reset with `mediaworker stats --reset`).
STATS_COMPLETED = f"{PREFIX}stats:completed"
STATS_FAILED = f"{PREFIX}stats:failed"
STATS_RETRIED = f"{PREFIX}stats:retried"

# Priorities (see priorities.py). The counter never expires; the deferred set and its
# priorities hash hold a job only while it waits for its retry or `defer_s`.
PRIORITY_SEQ = f"{PREFIX}priority:seq"
DEFERRED = f"{PREFIX}deferred"  # zset {job_id: due time in ms}
DEFERRED_PRIORITY = f"{PREFIX}deferred:priority"  # hash {job_id: priority}

# How long arq keeps a job's in-progress key between heartbeats. A worker killed with
# `kill -9` leaves the key behind; another worker takes the job once it lapses.
IN_PROGRESS_TTL_S = 15.0
IN_PROGRESS_REFRESH_S = 5.0

# AI: the prompt cache {request hash: media id}, kept PROMPT_CACHE_TTL_SECONDS; the rate
# limiter's sliding windows, zsets of call times kept one window long (ratelimit.py).
PROMPT_CACHE_PREFIX = f"{PREFIX}prompt-cache:"
RATE_LIMIT_PREFIX = f"{PREFIX}rate-limit:"


# Transcripts of the chunks of a long recording, kept while its job runs (a retry or a
# rate-limit deferral does not pay for the chunks done twice); removed once the row is written.
TRANSCRIPT_PARTS_PREFIX = f"{PREFIX}transcript-parts:"
TRANSCRIPT_PARTS_TTL_S = 24 * 3600


def prompt_cache_key(request_hash: str) -> str:
    return PROMPT_CACHE_PREFIX + _hex(request_hash)


def transcript_parts_key(request_hash: str) -> str:
    return TRANSCRIPT_PARTS_PREFIX + _hex(request_hash)


def request_hash(*parts: object) -> str:
    """The SHA-256 (hex) of `parts` as JSON: names a piece of work by what it is made of."""
    text = json.dumps(parts, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_text(text: str) -> str:
    """NFC, whitespace runs as one space, trimmed: the same phrase, however it was typed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def rate_limit_key(capability: str, provider: str, model: str | None = None) -> str:
    """`...:rate-limit:{capability}:{provider}[:{model}]`; names are not user input."""
    parts = [capability, provider] + ([model] if model else [])
    return RATE_LIMIT_PREFIX + ":".join(parts)


# --- job ids: the job id names the work ----------------------------------------------------


def thumbnails_job_id(media_id: str) -> str:
    return f"thumbnails-{validate_id(media_id)}"


def upload_job_id(media_id: str) -> str:
    return f"upload-{validate_id(media_id)}"


def waveform_job_id(media_id: str) -> str:
    return f"waveform-{validate_id(media_id)}"


def preview_job_id(media_id: str) -> str:
    return f"preview-{validate_id(media_id)}"


def video_thumbnail_job_id(media_id: str) -> str:
    return f"video-thumbnail-{validate_id(media_id)}"


def generate_image_job_id(media_id: str) -> str:
    """The media id is that of the image to make (see client.enqueue_generate_image)."""
    return f"generate-image-{validate_id(media_id)}"


def enhance_job_id(media_id: str) -> str:
    return f"enhance-{validate_id(media_id)}"


def upscale_job_id(media_id: str, scale: int) -> str:
    return f"upscale-{validate_id(media_id)}-{int(scale)}x"


def transcribe_job_id(media_id: str) -> str:
    return f"transcribe-{validate_id(media_id)}"


def speech_job_id(request_hash: str) -> str:
    """Named by a hash of voice, format, language and normalised text: one job per phrase."""
    return f"speech-{_hex(request_hash)[:40]}"


def tts_row_job_id(row_id: int) -> str:
    return f"tts-job-{int(row_id)}"


def photo_job_id(media_id: str) -> str:
    """analyze_photo (the original deployment's `photo-{photoId}`)."""
    return f"photo-{validate_id(media_id)}"


def inventory_job_id(project_id: str) -> str:
    return f"inventory-{validate_id(project_id, what='project_id')}"


# An inventory found unchanged writes nothing; the cron that looks for changed projects skips
# a project whose newest change (epoch ms) is not after this mark. Kept a day.
INVENTORY_CHECKED_PREFIX = f"{PREFIX}inventory-checked:"
INVENTORY_CHECKED_TTL_S = 24 * 3600


def inventory_checked_key(project_id: str) -> str:
    return INVENTORY_CHECKED_PREFIX + validate_id(project_id, what="project_id")


# --- storage layout ------------------------------------------------------------------------


class DerivativeType(StrEnum):
    THUMBNAIL = "THUMBNAIL"
    MEDIUM = "MEDIUM"
    LARGE = "LARGE"
    WAVEFORM_JSON = "WAVEFORM_JSON"  # audiowaveform JSON, version 2 (peaks.js, waveform-data.js)
    WAVEFORM_DAT = "WAVEFORM_DAT"  # audiowaveform binary .dat, version 2
    WAVEFORM_SVG = "WAVEFORM_SVG"
    WAVEFORM_PNG = "WAVEFORM_PNG"
    PREVIEW = "PREVIEW"  # H.264 + AAC MP4, the first seconds of a video
    UPSCALED = "UPSCALED"  # the original enlarged 2x or 4x (upscale_image), IMAGE_FORMAT


# Content type and file extension of the derivatives whose format is fixed (the image sizes
# follow IMAGE_FORMAT).
DERIVATIVE_FORMATS: dict[DerivativeType, tuple[str, str]] = {
    DerivativeType.WAVEFORM_JSON: ("application/json", "json"),
    DerivativeType.WAVEFORM_DAT: ("application/octet-stream", "dat"),
    DerivativeType.WAVEFORM_SVG: ("image/svg+xml", "svg"),
    DerivativeType.WAVEFORM_PNG: ("image/png", "png"),
    DerivativeType.PREVIEW: ("video/mp4", "mp4"),
}


def original_key(media_id: str, ext: str) -> str:
    return f"media/{validate_id(media_id)}/{media_id}-original.{_ext(ext)}"


def derivative_key(media_id: str, derivative: str, ext: str) -> str:
    """`media/{media_id}/{media_id}-{type}.{ext}`, the type in lower case."""
    kind = validate_id(derivative.lower(), what="derivative type")
    return f"media/{validate_id(media_id)}/{media_id}-{kind}.{_ext(ext)}"


def enhanced_media_id(media_id: str) -> str:
    """The id of the enhanced copy's media row: `{media_id}-enhanced`."""
    return validate_id(f"{validate_id(media_id)}-enhanced", what="enhanced media id")


def enhanced_key(media_id: str, ext: str = "jpg") -> str:
    """`media/{media_id}/{media_id}-enhanced.jpg`, beside the original it was made from."""
    return f"media/{validate_id(media_id)}/{media_id}-enhanced.{_ext(ext)}"


def speech_key(audio_hash: str, ext: str) -> str:
    """`speech/{aa}/{hash}.{ext}`: the hash of provider, model, voice, format and text."""
    digest = _hex(audio_hash)
    return f"speech/{digest[:2]}/{digest}.{_ext(ext)}"


def _hex(value: str) -> str:
    if not re.fullmatch(r"[0-9a-f]{16,128}", value):
        raise BadInputError("hash is not 16-128 lower-case hex digits")
    return value


def _ext(ext: str) -> str:
    ext = ext.lower().lstrip(".")
    if not _EXT_RE.fullmatch(ext):
        raise BadInputError(f"file extension {ext[:12]!r} is not valid")
    return ext


# --- metric names (Prometheus) -------------------------------------------------------------

METRIC_JOBS = "mediaworker_jobs_total"  # labels: function, outcome
METRIC_JOB_SECONDS = "mediaworker_job_duration_seconds"  # labels: function
METRIC_JOBS_RUNNING = "mediaworker_jobs_running"  # labels: function
