"""The AI jobs: image generation, enhancement and upscaling, transcription, speech."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import Field, model_validator

from mediaworker.ids import normalise_text, request_hash
from mediaworker.payloads.base import Derivative, MediaId, MediaRowPayload, Payload, Result

ImageSize = Annotated[str, Field(pattern=r"^(auto|[1-9][0-9]{1,4}x[1-9][0-9]{1,4})$")]
Language = Annotated[str, Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}$")]
VoiceName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")]
SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav"]
ImageQuality = Literal["low", "medium", "high", "auto"]
UpscaleFactor = Literal[2, 4]


class GenerateImagePayload(Payload):
    prompt: str = Field(min_length=1, max_length=4000)
    media_id: MediaId = Field(description="id of the media row to make")
    size: ImageSize = "1024x1024"
    quality: ImageQuality = "auto"
    force: bool = Field(False, description="regenerate: skip the prompt cache and a made row")


class GenerateImageResult(Result):
    media_id: str = Field(description="the row made: on a prompt-cache hit, a copy of the image")
    storage_key: str
    url: str
    provider: str
    model: str
    cached: bool = Field(description="served from the prompt cache, no provider call")
    skipped: bool = Field(description="the row was already made and force was off")
    synthetic: bool = Field(description="a labelled placeholder, not a model's image")


class EnhanceImagePayload(MediaRowPayload):
    pass


class EnhanceImageResult(Result):
    media_id: str
    enhanced_media_id: str
    storage_key: str
    url: str
    provider: str
    model: str
    skipped: bool


class UpscalePayload(Payload):
    media_id: MediaId
    scale: UpscaleFactor = 2
    force: bool = False


class UpscaleResult(Result):
    media_id: str
    scale: int
    provider: str
    model: str
    skipped: bool
    derivative: Derivative


class TranscribePayload(Payload):
    media_id: MediaId
    language: Language | None = None


class TranscribeResult(Result):
    media_id: str
    version: int
    text: str
    language: str | None
    chunks: int
    duration_s: float | None
    provider: str
    model: str


class SpeechPayload(Payload):
    text: str = Field(min_length=1, max_length=100_000, description="SPEECH_MAX_CHARS applies")
    voice: VoiceName | None = None
    format: SpeechFormat = "mp3"
    language: Language | None = None
    tts_job_id: int | None = Field(None, description="the tts_jobs row to write the outcome to")
    tts_claim_token: uuid.UUID | None = Field(
        None, description="the row's claim (claim_tts_jobs): only its holder may finish it"
    )

    @model_validator(mode="after")
    def _claimed_row(self) -> SpeechPayload:
        if (self.tts_job_id is None) != (self.tts_claim_token is None):
            raise ValueError("tts_job_id and tts_claim_token go together")
        return self

    @property
    def phrase_hash(self) -> str:
        """Voice, format, language and the normalised text, hashed: names the phrase's job."""
        return request_hash(self.voice, self.format, self.language, normalise_text(self.text))[:40]


class SpeechResult(Result):
    storage_key: str
    url: str
    content_type: str
    size_bytes: int | None = Field(description="None when the audio was already stored")
    provider: str
    model: str
    voice: str
    cached: bool = Field(description="the same phrase was already synthesized: no provider call")


class ClaimTtsPayload(Payload):
    pass


class ClaimTtsResult(Result):
    enqueued: list[int]
