"""ffmpeg and ffprobe, pure: the argument lists that run them safely, and what ffprobe found.

Nothing here starts a process (`mediaworker.subprocesses` does: no shell, stdin closed, a time
limit, the process killed on timeout or cancellation). Every argument list built here:

- reads its input as a `file:` URL, so a name is never taken for a protocol or an option;
- sets `-protocol_whitelist file,pipe`, which nested opens inherit: nothing reaches the network;
- sets `-codec_whitelist` to CODEC_WHITELIST: only the software decoders of the codecs these
  containers carry (and a cover picture's PNG or JPEG) may open; an exotic decoder never sees
  an upload;
- sets `-format_whitelist` to ACCEPTED_DEMUXERS when probing, and pins the demuxer the probe
  found with `-f` for every later run (the input format check). HLS playlists, concat lists
  and the other formats that open further files are refused before they open anything, even
  when named `.mp4`: playlist and list formats are simply not on the list;
- (ffmpeg) `-nostdin`, `-loglevel error`, and `-map_metadata -1`: outputs carry no tags of the
  source (a phone video's GPS position stays in the original).
"""

from __future__ import annotations

import json
import math
import re
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from fractions import Fraction
from typing import Any

from mediaworker.errors import BadInputError

__all__ = [
    "ACCEPTED_DEMUXERS",
    "CODEC_WHITELIST",
    "MAX_PCM_SAMPLE_RATE",
    "MediaLimits",
    "NotMediaError",
    "PreviewSpec",
    "Probe",
    "Stream",
    "check_limits",
    "decode_pcm_argv",
    "failure_reason",
    "file_url",
    "parse_probe",
    "pcm_sample_rate",
    "preview_argv",
    "probe_argv",
    "probe_failure",
    "refused_demuxer",
    "require_media",
    "thumbnail_at",
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
PROTOCOLS = "file,pipe"
# Decoders (ffmpeg's names, not codecs': MP3 decodes with mp3float) an upload may reach.
CODEC_WHITELIST = ",".join(
    (
        *("h264", "hevc", "vp8", "vp9", "libvpx", "libvpx-vp9", "av1", "libdav1d", "mpeg4"),
        *("mpeg1video", "mpeg2video", "h263", "h263p", "flv", "msmpeg4", "msmpeg4v2", "wmv1"),
        *("wmv2", "wmv3", "vc1", "prores", "theora", "mjpeg", "png", "dvvideo"),
        *("aac", "aac_fixed", "mp3float", "mp3", "mp2float", "mp2", "opus", "libopus"),
        *("vorbis", "libvorbis", "flac", "alac", "ac3", "ac3_fixed", "eac3", "amrnb", "amrwb"),
        *("wmav1", "wmav2", "wmapro", "dca", "truehd", "mlp", "adpcm_ima_wav", "adpcm_ms"),
        *("pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_s32be"),
        *("pcm_f32le", "pcm_f32be", "pcm_f64le", "pcm_f64be", "pcm_u8", "pcm_s8"),
        *("pcm_alaw", "pcm_mulaw"),
    )
)
IMAGE_DEMUXER = re.compile(r"^(image2|.*_pipe|gif|apng)$")
NOT_MEDIA = "not an audio or video file this worker can read"
DEFAULT_SAMPLE_RATE = 44100
# The waveform's PCM never runs faster than this: a 640 kHz FLAC would otherwise make 1.28 MB
# of scratch a second (768 MB for a 358 KB file); at 48 kHz a second is 96 KB.
MAX_PCM_SAMPLE_RATE = 48000


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


@dataclass(frozen=True)
class PreviewSpec:
    seconds: float
    max_lines: int
    crf: int
    preset: str
    audio_kbps: int


# --- ffprobe --------------------------------------------------------------------------------


def probe_argv(ffprobe: str, path: str) -> list[str]:
    return [
        ffprobe,
        "-hide_banner",
        "-loglevel",
        "error",
        "-protocol_whitelist",
        PROTOCOLS,
        "-format_whitelist",
        ",".join(ACCEPTED_DEMUXERS),
        "-codec_whitelist",
        CODEC_WHITELIST,
        "-show_format",
        "-show_streams",
        "-of",
        "json",
        "-i",
        file_url(path),
    ]


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


# --- ffmpeg ---------------------------------------------------------------------------------


def decode_pcm_argv(
    ffmpeg: str, source: str, probe: Probe, output: str, *, max_duration_s: float
) -> list[str]:
    """The first audio stream as mono signed 16-bit little-endian PCM, at its own sample rate
    up to MAX_PCM_SAMPLE_RATE (resampled above it)."""
    audio = _need(probe.audio, "no audio track")
    return [
        *_head(ffmpeg),
        *_input(source, probe, duration_s=max_duration_s),
        *("-map", f"0:{audio.index}", "-vn", "-sn", "-dn"),
        *("-ac", "1", "-ar", str(pcm_sample_rate(probe))),
        *("-c:a", "pcm_s16le", "-f", "s16le", file_url(output)),
    ]


def pcm_sample_rate(probe: Probe) -> int:
    """The rate `decode_pcm_argv` decodes at: the audio's own up to 48 kHz, or 44.1 kHz if
    unknown."""
    audio = probe.audio
    rate = audio.sample_rate if audio is not None and audio.sample_rate else DEFAULT_SAMPLE_RATE
    return min(rate, MAX_PCM_SAMPLE_RATE)


def preview_argv(
    ffmpeg: str, source: str, probe: Probe, output: str, spec: PreviewSpec
) -> list[str]:
    """The first seconds as H.264 yuv420p + AAC in MP4 with +faststart, upright, even-sized.

    ffmpeg turns rotated frames upright by itself (autorotate) and writes no rotation on the
    output. The height is at most `max_lines` upright lines, the width follows the display
    aspect ratio (non-square pixels made square) but is never wider than the stored frame (a
    40:1 sample aspect ratio would make 34133x480 frames; it gives 1280x18); both are even,
    as yuv420p needs.
    """
    video = _need(probe.video, "no video track")
    lines = f"max(2,trunc(min({spec.max_lines},ih)/2)*2)"
    width = f"min({lines}*dar,iw)"
    scale = (
        f"scale=w='max(2,round({width}/2)*2)':h='max(2,round(min({lines},{width}/dar)/2)*2)',"
        "setsar=1"
    )
    audio = probe.audio
    audio_args: list[str] = ["-an"]
    if audio is not None:
        audio_args = ["-map", f"0:{audio.index}", "-c:a", "aac", "-b:a", f"{spec.audio_kbps}k"]
        if (audio.channels or 2) > 2:
            audio_args += ["-ac", "2"]
    return [
        *_head(ffmpeg),
        *_input(source, probe, duration_s=spec.seconds),
        *("-map", f"0:{video.index}", "-vf", scale),
        *("-c:v", "libx264", "-preset", spec.preset, "-crf", str(spec.crf)),
        *("-pix_fmt", "yuv420p", "-profile:v", "high"),
        *audio_args,
        *("-sn", "-dn", "-map_metadata", "-1", "-map_chapters", "-1"),
        *("-movflags", "+faststart", "-f", "mp4", file_url(output)),
    ]


def thumbnail_at(probe: Probe, preferred_s: float) -> float:
    """`preferred_s`, or half the duration when the video is not longer than that."""
    duration = probe.duration_s
    if duration is None or duration > preferred_s:
        return preferred_s
    return duration / 2


def _head(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]


def _input(source: str, probe: Probe, *, duration_s: float | None = None) -> list[str]:
    """The input options: whitelists, the demuxer pinned, at most `duration_s` read."""
    args = ["-protocol_whitelist", PROTOCOLS, "-format_whitelist", probe.demuxer]
    args += ["-codec_whitelist", CODEC_WHITELIST, "-f", probe.demuxer]
    if duration_s is not None:
        args += ["-t", f"{duration_s:.3f}"]
    return [*args, "-i", file_url(source)]


def _need(stream: Stream | None, what: str) -> Stream:
    if stream is None:
        raise BadInputError(what)
    return stream


def file_url(path: str) -> str:
    """`path` as a `file:` URL: never taken for a protocol or an option."""
    if not path.startswith("/"):
        raise ValueError(f"ffmpeg paths must be absolute, got {path!r}")
    return f"file:{path}"


# --- helpers --------------------------------------------------------------------------------


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


def argv_text(argv: Sequence[str]) -> str:
    """For logs and error messages: the program and the options, never the paths."""
    return " ".join("<file>" if a.startswith("file:") else a for a in argv)
