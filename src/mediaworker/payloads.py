"""What travels through Redis: one <Job>Payload and <Job>Result model per job.

Payloads carry ids and options, never file contents. Unknown fields are refused, so a typo in
a producer fails at once with BAD_INPUT instead of being ignored; so are NUL characters in text
and NaN or Infinity in numbers. This module imports only pydantic, ids.py and
`photos.analysis` (which imports only pydantic), so producers can use it without the
worker's dependencies.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mediaworker.ids import ID_PATTERN, normalise_text, request_hash
from mediaworker.photos.analysis import RoomAnalysis, RoomType

MediaId = Annotated[str, Field(pattern=ID_PATTERN)]


class Payload(BaseModel):
    """Unknown fields, non-finite numbers (NaN, Infinity) and text with a NUL character are
    refused here, at the boundary: Postgres stores neither in text or jsonb."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _no_nul(self) -> Self:
        for name, value in self:
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(f"{name} contains a NUL character")
        return self


class Result(BaseModel):
    model_config = ConfigDict(frozen=True)


class ThumbnailsPayload(Payload):
    media_id: MediaId
    force: bool = False


class Derivative(Result):
    type: str
    storage_key: str
    url: str
    content_type: str
    width: int | None = None
    height: int | None = None
    size_bytes: int


class ThumbnailsResult(Result):
    media_id: str
    skipped: bool = Field(description="True when the outputs already existed and force was off")
    width: int
    height: int
    blurhash: str | None
    derivatives: list[Derivative]


class ReconcilePayload(Payload):
    pass


class ReconcileResult(Result):
    requeued: list[str]


class ReconcileJobsResult(Result):
    requeued: list[str] = Field(description="ledger jobs Redis had lost, enqueued again")


class PruneHistoryResult(Result):
    """Rows removed by retention (queue/retention.py)."""

    succeeded: int
    failed: int
    cancelled: int
    job_runs: int
    ai_metrics: int


# --- AI jobs -------------------------------------------------------------------------------

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


class EnhanceImagePayload(Payload):
    media_id: MediaId
    force: bool = False


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


# --- audio and video (issue 3) ---------------------------------------------------------------


class WaveformPayload(Payload):
    media_id: MediaId
    force: bool = False


class WaveformResult(Result):
    media_id: str
    skipped: bool = Field(description="True when the outputs already existed and force was off")
    duration_s: float | None
    sample_rate: int | None
    channels: int | None = Field(description="channels of the source; the waveform is mono")
    samples_per_pixel: int | None = None
    bits: int | None = None
    length: int | None = Field(None, description="[min, max] pairs in the data")
    derivatives: list[Derivative]


class VideoPreviewPayload(Payload):
    media_id: MediaId
    force: bool = False


class VideoPreviewResult(Result):
    media_id: str
    skipped: bool
    duration_s: float | None = Field(description="length of the preview clip")
    width: int | None
    height: int | None
    has_audio: bool | None
    derivatives: list[Derivative]


class VideoThumbnailPayload(Payload):
    media_id: MediaId
    force: bool = False


class VideoThumbnailResult(Result):
    media_id: str
    skipped: bool
    at_s: float | None = Field(description="time of the frame in the video")
    width: int | None = Field(description="upright frame size")
    height: int | None
    blurhash: str | None
    derivatives: list[Derivative]


class ProcessUploadPayload(Payload):
    media_id: MediaId
    force: bool = Field(False, description="probe again and redo every derivative")


class EnqueuedJob(Result):
    function: str
    job_id: str
    priority: int


class ProcessUploadResult(Result):
    media_id: str
    kind: str
    duration_s: float | None
    expected_derivatives: list[str] | None
    enqueued: list[EnqueuedJob]


# --- AR export (issue 9) -----------------------------------------------------------------------

ArProduct = Literal["poster", "mug"]
# Real-world width in metres: the poster's width, the mug's diameter (its height follows).
AR_DEFAULT_WIDTH_M: dict[str, float] = {"poster": 0.5, "mug": 0.082}
AR_WIDTH_RANGE_M: dict[str, tuple[float, float]] = {"poster": (0.05, 5.0), "mug": (0.05, 0.2)}


class ArExportPayload(Payload):
    media_id: MediaId
    product: ArProduct
    width_m: float | None = Field(
        None, description="poster: its width; mug: its diameter; None: 0.5 m, 0.082 m"
    )
    handle: bool = Field(True, description="mug only: with a handle")
    force: bool = False

    @model_validator(mode="after")
    def _width_in_range(self) -> ArExportPayload:
        low, high = AR_WIDTH_RANGE_M[self.product]
        if self.width_m is not None and not low <= self.width_m <= high:
            raise ValueError(f"width_m of a {self.product} must be {low}-{high} m")
        return self

    @property
    def width_or_default_m(self) -> float:
        return self.width_m if self.width_m is not None else AR_DEFAULT_WIDTH_M[self.product]


class ArExportResult(Result):
    media_id: str
    product: str
    width_m: float
    skipped: bool = Field(description="True when the outputs already existed and force was off")
    size_m: list[float] | None = Field(
        description="width, height, depth of the model in metres; None when skipped"
    )
    derivatives: list[Derivative]


# --- photo analysis and the moving inventory (issue 8) ---------------------------------------

ProjectId = Annotated[str, Field(pattern=ID_PATTERN)]


class AnalyzePhotoPayload(Payload):
    media_id: MediaId
    room_type: RoomType | None = Field(None, description="given by the app: kept as a fact")
    force: bool = Field(False, description="analyse a DONE photo again (a new version)")


class AnalyzePhotoResult(Result):
    media_id: str
    skipped: bool = Field(description="the photo was DONE and force was off")
    status: str
    method: str | None = Field(description="model | detector | none (not analysed)")
    provider: str | None
    model: str | None = Field(description="the model id the API reported")
    version: int | None
    analysis: RoomAnalysis | None


class SyncInventoryPayload(Payload):
    project_id: ProjectId


class SyncInventoryResult(Result):
    project_id: str
    outcome: Literal["written", "unchanged", "skipped"]
    reason: str | None = None
    version: int | None = Field(None, description="the inventory's number of writes")
    inputs_hash: str | None = None
    totalItems: int | None = None
    totalVolume: float | None = None


class RefreshInventoriesPayload(Payload):
    pass


class RefreshInventoriesResult(Result):
    enqueued: list[str] = Field(description="projects whose inventory sync was enqueued")
    requeued_photos: list[str] = Field(description="photos left PROCESSING, enqueued again")
