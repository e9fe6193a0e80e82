"""One small Protocol per AI capability, the values they return and the usage they report.

Every implementation names its `provider` (openai | anthropic | gemini | local) and `model`
(the model it asks for, or the local tool, e.g. "espeak-ng"); both are recorded with every
call. `remote` says whether a call leaves the machine: remote calls are rate-limited and
billed. Errors leave an adapter only as our own (`mediaworker.errors`): SDK exceptions are
mapped at the boundary (see `providers.http_errors`), and job code never sees them.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, Protocol

from mediaworker.photos.analysis import RoomAnalysis


class Capability(StrEnum):
    """What a provider call does; also the `operation` of its ai_metrics row."""

    IMAGE_GENERATION = "image_generation"
    IMAGE_EDIT = "image_edit"
    UPSCALE = "upscale"
    TRANSCRIPTION = "transcription"
    SPEECH = "speech"
    ANALYSIS = "analyze_photo"  # its rate limit: RATE_LIMIT_ANALYSIS


@dataclass(frozen=True)
class Usage:
    """What a call consumed. `priced` holds extra counts under genai-prices' names (for
    example `input_image_tokens`); `raw` is the usage exactly as the provider reported it."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    audio_seconds: float | None = None
    characters: int | None = None
    images: int | None = None
    priced: dict[str, int] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ImageResult:
    data: bytes
    content_type: str
    usage: Usage
    synthetic: bool = False  # a labelled placeholder, not a model's image
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Segment:
    start_s: float
    end_s: float
    text: str


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str | None
    usage: Usage
    segments: tuple[Segment, ...] = ()


@dataclass(frozen=True)
class SpeechAudio:
    data: bytes
    content_type: str
    usage: Usage


AnalysisMethod = Literal["model", "detector", "none"]


@dataclass(frozen=True)
class PhotoAnalysis:
    """A validated room analysis. `raw` is the reply verbatim (the detector's detections as
    JSON); `model` the model id the API reported; `method` says what made it: a vision model,
    the offline detector (its items are estimates), or nothing (`none`: not analysed)."""

    result: RoomAnalysis
    raw: str
    model: str
    usage: Usage
    method: AnalysisMethod = "model"


class Provider(Protocol):
    provider: str
    model: str
    remote: bool


class ImageGenerator(Provider, Protocol):
    async def generate(self, prompt: str, *, size: str, quality: str) -> ImageResult:
        """An image for `prompt`; `size` is "WxH" or "auto"."""
        ...


class ImageEnhancer(Provider, Protocol):
    async def enhance(self, source: Path) -> ImageResult:
        """`source` is an upright sRGB JPEG; the result is a better-looking version of it."""
        ...


class ImageUpscaler(Provider, Protocol):
    async def upscale(self, source: Path, *, scale: int, max_pixels: int) -> ImageResult:
        """`source` enlarged `scale` times; BAD_INPUT when the output would pass `max_pixels`."""
        ...


class Transcriber(Provider, Protocol):
    input_format: str  # what it is sent: "mp3" (uploads) or "wav" (16 kHz mono PCM)
    max_upload_bytes: int | None  # longer inputs are split into chunks below this size

    async def transcribe(self, audio: Path, *, language: str | None) -> Transcript: ...


class SpeechSynthesizer(Provider, Protocol):
    default_voice: str

    async def synthesize(
        self, text: str, *, voice: str, audio_format: str, language: str | None
    ) -> SpeechAudio: ...


class PhotoAnalyzer(Provider, Protocol):
    async def analyze(
        self, image: bytes, *, content_type: str, room_type: str | None = None
    ) -> PhotoAnalysis:
        """The room and the items in `image`; a `room_type` given is a fact, kept as it is.
        A reply that does not validate raises `http_errors.InvalidReplyError`."""
        ...


# HTTP requests made by the SDKs during one metered call (their own retries included): the
# metering sets a counter, the adapters' HTTP clients count into it.
_HTTP_REQUESTS: ContextVar[list[int] | None] = ContextVar("mediaworker_http", default=None)


def start_counting_requests() -> list[int]:
    counter = [0]
    _HTTP_REQUESTS.set(counter)
    return counter


async def count_request(_request: object) -> None:
    """An httpx event hook: one more HTTP request in the current metered call."""
    counter = _HTTP_REQUESTS.get()
    if counter is not None:
        counter[0] += 1
