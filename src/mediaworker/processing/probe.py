"""What ffprobe found in an upload: the probe's model, its parsing, and the checks on it.

`parse_probe` reads ffprobe's JSON (processing/ffmpeg.py builds the command) into a `Probe`;
`probe_failure` words what a failed probe means (not media, an image, a refused format, cut
inside its header); `require_media` and `check_limits` refuse what a job should not decode.
The probe is kept on the media row (`summary()`), and `from_summary` reads it back.
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from mediaworker.errors import BadInputError

__all__ = [
    "ACCEPTED_DEMUXERS",
    "MediaLimits",
    "NotMediaError",
    "Probe",
    "Stream",
    "check_limits",
    "failure_reason",
    "parse_probe",
    "probe_failure",
    "refused_demuxer",
    "require_media",
]

# Containers of audio and video that open nothing but the file itself. Not here, on purpose:
# hls, dash, concat, ffconcat, image2 sequences, tee, and every other format that reads
# other files or URLs named inside the input.
ACCEPTED_DEMUXERS = (
    "mov",  # mp4, m4a, mov, 3gp (external data references are off by default)
    "matroska",  # mkv, webm
    "mp3",
    "wav",
    "w64",
    "flac",
    "ogg",  # vorbis, opus
    "aac",
    "ac3",
    "eac3",
    "amr",
    "aiff",
    "caf",
    "avi",
    "asf",
    "flv",
    "mpegts",
    "mpeg",
)
IMAGE_DEMUXER = re.compile(r"^(image2|.*_pipe|gif|apng)$")
NOT_MEDIA = "not an audio or video file this worker can read"


class NotMediaError(BadInputError):
    """ffprobe found no audio or video it accepts; `image` when the file is an image."""

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        refused: str | None = None,
        image: bool = False,
    ) -> None:
        super().__init__(message, retry_after_s=retry_after_s)
        self.refused = refused  # the demuxer found but not accepted ("hls", "concat", ...)
        self.image = image


@dataclass(frozen=True)
class Stream:
    index: int
    type: str  # "audio" | "video" | "subtitle" | "data" | "attachment"
    codec: str | None
    width: int | None = None
    height: int | None = None
    sample_rate: int | None = None
    channels: int | None = None
    duration_s: float | None = None
    frame_rate: float | None = None
    rotation: int = 0  # counter-clockwise degrees to turn the frames for display: 0/90/180/270
    attached_pic: bool = False  # a cover picture (an MP3's album art), not a video


@dataclass(frozen=True)
class Probe:
    container: str  # ffprobe's format_name: "mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "mp3"
    duration_s: float | None
    size_bytes: int | None
    bit_rate: int | None
    streams: tuple[Stream, ...]

    @property
    def demuxer(self) -> str:
        """The name that pins this container with `-f` ("mov", "matroska", "mp3")."""
        return self.container.split(",")[0]

    @property
    def video(self) -> Stream | None:
        """The first video stream that is moving pictures, not a cover picture."""
        return next(
            (s for s in self.streams if s.type == "video" and not s.attached_pic and s.width),
            None,
        )

    @property
    def audio(self) -> Stream | None:
        return next((s for s in self.streams if s.type == "audio"), None)

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def has_video(self) -> bool:
        return self.video is not None

    @property
    def kind(self) -> str | None:
        """VIDEO, AUDIO (an MP3 with cover art included) or None (neither)."""
        if self.has_video:
            return "VIDEO"
        return "AUDIO" if self.has_audio else None

    @property
    def display_size(self) -> tuple[int, int] | None:
        """Width and height as shown: the rotation applied."""
        video = self.video
        if video is None or not video.width or not video.height:
            return None
        turned = video.rotation in (90, 270)
        return (video.height, video.width) if turned else (video.width, video.height)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready copy of what was found, for the media row."""
        return asdict(self)

    @classmethod
    def from_summary(cls, summary: Mapping[str, Any]) -> Probe:
        """The probe again, from what `summary()` gave; ValueError if it does not fit."""
        try:
            probe = cls(
                container=str(summary["container"]),
                duration_s=summary["duration_s"],
                size_bytes=summary["size_bytes"],
                bit_rate=summary["bit_rate"],
                streams=tuple(Stream(**stream) for stream in summary["streams"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a probe summary: {exc}") from exc
        if probe.demuxer not in ACCEPTED_DEMUXERS:
            raise ValueError(f"{probe.demuxer} is not an accepted format")
        return probe


@dataclass(frozen=True)
class MediaLimits:
    max_duration_s: float
    min_duration_s: float
    max_video_pixels: int


def parse_probe(text: str | bytes) -> Probe:
    """ffprobe's `-show_format -show_streams -of json` output, typed."""
    try:
        found = json.loads(text)
        fmt = found["format"]
        streams = tuple(_stream(s) for s in found.get("streams", []))
        container = str(fmt["format_name"])
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInputError(f"{NOT_MEDIA}: ffprobe gave no format") from exc
    duration = _float(fmt.get("duration"))
    if duration is None:
        durations = [s.duration_s for s in streams if s.duration_s is not None]
        duration = max(durations) if durations else None
    return Probe(
        container=container,
        duration_s=duration,
        size_bytes=_int(fmt.get("size")),
        bit_rate=_int(fmt.get("bit_rate")),
        streams=streams,
    )


def _stream(raw: Mapping[str, Any]) -> Stream:
    disposition = raw.get("disposition") or {}
    return Stream(
        index=int(raw["index"]),
        type=str(raw.get("codec_type") or "data"),
        codec=raw.get("codec_name"),
        width=_int(raw.get("width")),
        height=_int(raw.get("height")),
        sample_rate=_int(raw.get("sample_rate")),
        channels=_int(raw.get("channels")),
        duration_s=_float(raw.get("duration")),
        frame_rate=_rate(raw.get("avg_frame_rate")) or _rate(raw.get("r_frame_rate")),
        rotation=_rotation(raw),
        attached_pic=bool(disposition.get("attached_pic")),
    )


def _rotation(raw: Mapping[str, Any]) -> int:
    """ffprobe's display-matrix rotation, as 0, 90, 180 or 270 (-90 is 270)."""
    degrees = next(
        (_float(d["rotation"]) for d in raw.get("side_data_list") or [] if "rotation" in d),
        None,
    )
    return 0 if degrees is None else int(round(degrees / 90) * 90) % 360


def probe_failure(stderr: str) -> NotMediaError:
    """The error for a file ffprobe could not open (`refused` names a refused demuxer)."""
    refused = refused_demuxer(stderr)
    if refused is not None and IMAGE_DEMUXER.match(refused):
        return NotMediaError(f"{NOT_MEDIA}: it is an image", refused=refused, image=True)
    if refused is not None:
        return NotMediaError(f"{NOT_MEDIA}: {refused} is not an accepted format", refused=refused)
    reason = failure_reason(stderr)
    if reason == "End of file":
        return NotMediaError(f"{NOT_MEDIA}: truncated, it ends inside its header")
    return NotMediaError(f"{NOT_MEDIA}: {reason}")


def require_media(probe: Probe) -> Probe:
    """The probe, if the file holds audio or moving pictures (a cover picture is not)."""
    if probe.kind is None:
        kinds = sorted({s.type for s in probe.streams} - {"audio", "video"})
        found = f"only {', '.join(kinds)} streams" if kinds else "no streams"
        raise NotMediaError(f"{NOT_MEDIA}: {found} in {probe.demuxer}")
    return probe


def refused_demuxer(stderr: str) -> str | None:
    """The demuxer ffmpeg found but refused because it is not on the format whitelist."""
    match = re.search(r"\[([A-Za-z0-9_,]+) @ 0x[0-9a-f]+\] Format not on whitelist", stderr)
    return match.group(1) if match else None


def failure_reason(stderr: str) -> str:
    """The last line of ffmpeg's error output, without `[demuxer @ 0x...]` or paths."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "no reason given"
    line = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", "", lines[-1])
    line = re.sub(r"Codec \((\S+)\) not on whitelist .*", r"the \1 codec is not accepted", line)
    line = re.sub(r"(file:)?/\S+?: ", "", line)  # "file:/tmp/x/original: Invalid data ..."
    line = re.sub(r"(file:)?/\S+", "<file>", line)
    return textwrap.shorten(line, width=120, placeholder=" …")


# --- limits ---------------------------------------------------------------------------------


def check_limits(probe: Probe, limits: MediaLimits) -> None:
    """Refuse what is too long, too short or too large before any decoding."""
    duration = probe.duration_s
    if duration is not None and duration > limits.max_duration_s:
        raise BadInputError(
            f"{_seconds(duration)} long, over the {_seconds(limits.max_duration_s)} limit"
        )
    if duration is not None and duration < limits.min_duration_s:
        raise BadInputError(
            f"only {duration:.3f} s long; the shortest accepted is {limits.min_duration_s:g} s"
        )
    video = probe.video
    if video is not None and (video.width or 0) * (video.height or 0) > limits.max_video_pixels:
        raise BadInputError(
            f"video frames are {video.width}x{video.height}, over the "
            f"{limits.max_video_pixels / 1e6:.0f} MP limit"
        )


# --- helpers -----------------------------------------------------------------------------


def _float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _int(value: Any) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def _rate(value: Any) -> float | None:
    """A frame rate: 30000/1001 -> 29.97; 0/0 and garbage -> None."""
    try:
        rate = Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None
    return round(float(rate), 3) if rate > 0 else None


def _seconds(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.1f} h"
    return f"{value / 60:.1f} min" if value >= 60 else f"{value:.1f} s"
