"""The media jobs: thumbnails, the upload fan-out, the waveform, the video preview and poster
frame, AR export."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mediaworker.payloads.base import Derivative, MediaId, MediaRowPayload, Payload, Result


class ThumbnailsPayload(MediaRowPayload):
    pass


class ThumbnailsResult(Result):
    media_id: str
    skipped: bool = Field(description="True when the outputs already existed and force was off")
    width: int
    height: int
    blurhash: str | None
    derivatives: list[Derivative]


class WaveformPayload(MediaRowPayload):
    pass


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


class VideoPreviewPayload(MediaRowPayload):
    pass


class VideoPreviewResult(Result):
    media_id: str
    skipped: bool
    duration_s: float | None = Field(description="length of the preview clip")
    width: int | None
    height: int | None
    has_audio: bool | None
    derivatives: list[Derivative]


class VideoThumbnailPayload(MediaRowPayload):
    pass


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
