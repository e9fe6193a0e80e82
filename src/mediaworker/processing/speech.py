"""Argument lists for the speech jobs' tools, pure: espeak-ng, and ffmpeg to encode and split.

Same rules as `ffmpeg.py`: inputs as `file:` URLs with `-protocol_whitelist file,pipe`, an
uploaded input's demuxer pinned with `-f` (the probe found it), no metadata copied. Text to
speak is read from a file, never passed in argv, so nothing in it can become an option.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from mediaworker.processing.ffmpeg import CODEC_WHITELIST, PROTOCOLS, file_url
from mediaworker.processing.probe import Probe

# Output encodings of speech: format -> (ffmpeg codec arguments, muxer, content type, ext).
SPEECH_ENCODINGS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "mp3": (("-c:a", "libmp3lame", "-b:a", "64k"), "mp3", "audio/mpeg", "mp3"),
    "opus": (("-c:a", "libopus", "-b:a", "48k"), "ogg", "audio/ogg", "opus"),
    "aac": (("-c:a", "aac", "-b:a", "64k"), "adts", "audio/aac", "aac"),
    "flac": (("-c:a", "flac"), "flac", "audio/flac", "flac"),
    "wav": (("-c:a", "pcm_s16le"), "wav", "audio/wav", "wav"),
}
# What the transcribers are sent: 16 kHz mono, as MP3 (compact, for uploads) or 16-bit PCM WAV
# (what pocketsphinx decodes).
CHUNK_CODECS: dict[str, tuple[str, ...]] = {
    "mp3": ("-c:a", "libmp3lame", "-b:a", "48k"),
    "wav": ("-c:a", "pcm_s16le"),
}
CHUNK_BYTES_PER_S = {"mp3": 6000, "wav": 32000}
SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Chunk:
    path: str
    start_s: float
    end_s: float


def espeak_argv(espeak: str, voice: str, text_path: str, wav_path: str) -> list[str]:
    """espeak-ng reading UTF-8 text from a file and writing a WAV file."""
    if voice.startswith("-"):
        raise ValueError("an espeak-ng voice never starts with '-'")
    return [espeak, "-b", "1", "-v", voice, "-f", text_path, "-w", wav_path]


def encode_argv(ffmpeg: str, wav_path: str, out_path: str, audio_format: str) -> list[str]:
    """Our own WAV (from espeak-ng) encoded as `audio_format`."""
    codec, muxer, _, _ = SPEECH_ENCODINGS[audio_format]
    return [
        *_head(ffmpeg),
        *("-protocol_whitelist", PROTOCOLS, "-codec_whitelist", "pcm_s16le"),
        *("-f", "wav", "-i", file_url(wav_path)),
        *("-vn", "-map_metadata", "-1", *codec, "-f", muxer, file_url(out_path)),
    ]


def chunk_seconds(duration_s: float | None, codec: str, max_bytes: int | None, most_s: int) -> int:
    """How long each chunk may be: at most `most_s`, and small enough for the upload limit."""
    length = most_s
    if max_bytes is not None:
        length = min(length, int(max_bytes * 0.9 / CHUNK_BYTES_PER_S[codec]))
    if duration_s is not None and duration_s <= length:
        return max(1, int(duration_s) + 1)
    return max(1, length)


def chunks_argv(
    ffmpeg: str,
    source: str,
    probe: Probe,
    pattern: str,
    list_path: str,
    *,
    codec: str,
    seconds: int,
    max_duration_s: float,
) -> list[str]:
    """The first audio stream, its first `max_duration_s` at most, as 16 kHz mono chunks of
    `seconds`, listed in a CSV file."""
    audio = probe.audio
    if audio is None:
        raise ValueError("no audio stream")
    return [
        *_head(ffmpeg),
        *("-protocol_whitelist", PROTOCOLS, "-format_whitelist", probe.demuxer),
        *("-codec_whitelist", CODEC_WHITELIST, "-f", probe.demuxer),
        *("-t", f"{max_duration_s:.3f}", "-i", file_url(source)),
        *("-map", f"0:{audio.index}", "-vn", "-sn", "-dn", "-map_metadata", "-1"),
        *("-ac", "1", "-ar", str(SAMPLE_RATE), *CHUNK_CODECS[codec]),
        *("-f", "segment", "-segment_time", str(seconds), "-reset_timestamps", "1"),
        *("-segment_list", file_url(list_path), "-segment_list_type", "csv"),
        file_url(pattern),
    ]


def parse_chunk_list(text: str, folder: str) -> list[Chunk]:
    """ffmpeg's CSV segment list (`name,start,end`) as chunks in `folder`, in order."""
    chunks = []
    for row in csv.reader(io.StringIO(text)):
        if len(row) >= 3 and "/" not in row[0]:
            chunks.append(Chunk(f"{folder}/{row[0]}", float(row[1]), float(row[2])))
    return chunks


def _head(ffmpeg: str) -> list[str]:
    return [ffmpeg, "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y"]
