"""The media pipelines: image renditions, ffmpeg and its input limits, the waveform, the video
preview and poster frame, AR export."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field, field_validator

from mediaworker.config.base import (
    EnvList,
    EnvSize,
    HexColour,
    Section,
    Size,
    env,
    parse_list,
    parse_size,
)


class ImageFormat(StrEnum):
    JPEG = "jpeg"
    WEBP = "webp"
    AVIF = "avif"


class ImageConfig(Section):
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
    # A large JPEG decoded at the smallest eighth of its size that still covers LARGE (3/8 of a
    # 6000x4000 for 1920x1080) instead of the smallest half (1/2), as sharp and libvips do:
    # 27 ms less CPU per 24 MP photo (of ~200), LARGE 0.26 dB further from a full-size decode
    # (50.6 against 50.8 dB PSNR). Off by default.
    jpeg_decode_eighths: bool = Field(False, validation_alias=env("IMAGE_JPEG_DECODE_EIGHTHS"))
    max_input_bytes: int = Field(
        100 * 1024 * 1024, gt=0, validation_alias=env("IMAGE_MAX_INPUT_BYTES")
    )
    max_pixels: int = Field(100_000_000, gt=0, validation_alias=env("IMAGE_MAX_PIXELS"))
    # A GIF frame is decoded whole (about 5 bytes a pixel, none of the others' streaming):
    # 100 MP took 550 MB; 50 MP stays near 300 MB.
    max_gif_pixels: int = Field(50_000_000, gt=0, validation_alias=env("IMAGE_MAX_GIF_PIXELS"))
    timeout_s: float = Field(120, gt=0, validation_alias=env("IMAGE_TIMEOUT_S"))

    _sizes = field_validator("thumbnail_size", "medium_size", "large_size", mode="before")(
        parse_size
    )
    _lists = field_validator("jpeg_baseline_sizes", mode="before")(parse_list)


class MediaConfig(Section):
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


class AudioConfig(Section):
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

    _sizes = field_validator("waveform_image_size", mode="before")(parse_size)

    @field_validator("waveform_bits")
    @classmethod
    def _bits(cls, value: int) -> int:
        if value not in (8, 16):
            raise ValueError("WAVEFORM_BITS must be 8 or 16")
        return value


class VideoConfig(Section):
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


class ArConfig(Section):
    """export_ar: the texture and the still image."""

    texture_max_px: int = Field(2048, ge=64, le=2048, validation_alias=env("AR_TEXTURE_MAX_PX"))
    still_px: int = Field(1024, ge=64, le=2048, validation_alias=env("AR_STILL_PX"))
    timeout_s: float = Field(120, gt=0, validation_alias=env("AR_TIMEOUT_S"))
