"""ffmpeg and ffprobe, pure: the argument lists that run them safely (what ffprobe found is
read by processing/probe.py).

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

from collections.abc import Sequence
from dataclasses import dataclass

from mediaworker.errors import BadInputError
from mediaworker.processing.probe import ACCEPTED_DEMUXERS, Probe, Stream

__all__ = [
    "CODEC_WHITELIST",
    "MAX_PCM_SAMPLE_RATE",
    "PROTOCOLS",
    "PreviewSpec",
    "argv_text",
    "decode_pcm_argv",
    "file_url",
    "pcm_sample_rate",
    "preview_argv",
    "probe_argv",
    "thumbnail_at",
]

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
DEFAULT_SAMPLE_RATE = 44100
# The waveform's PCM never runs faster than this: a 640 kHz FLAC would otherwise make 1.28 MB
# of scratch a second (768 MB for a 358 KB file); at 48 kHz a second is 96 KB.
MAX_PCM_SAMPLE_RATE = 48000


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


def argv_text(argv: Sequence[str]) -> str:
    """For logs and error messages: the program and the options, never the paths."""
    return " ".join("<file>" if a.startswith("file:") else a for a in argv)
