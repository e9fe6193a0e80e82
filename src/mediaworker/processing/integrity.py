"""Is an audio or video file whole? Pure checks that cost next to nothing beside a decode.

An upload cut short keeps a valid header: a faststart MP4 cut to a third still probes as its
full length, and ffmpeg decodes its first seconds and exits 0. Nothing here decodes anything a
second time; each check reads what a job already has:

1. check_container  the few bytes that declare a length ffprobe does not show: a WAV's RIFF
                    and `data` chunk sizes (ffprobe clips them to the file), an Ogg file's
                    last page (a whole Ogg stream ends with an end-of-stream page)
2. with_end_scan    for jobs that decode only the start (the poster frame, the preview): the
   check_end        job's own ffmpeg run gets a second input, the last END_SCAN_S seconds of
                    the same file, whose packets are copied (demuxed, not decoded) to a
                    framecrc listing on stdout; the last packet must end where the container
                    says the media ends. No second process: a separate ffprobe cost as much
                    CPU as the poster frame itself (its start-up, mostly)
3. check_decode     for jobs that decode: ffmpeg's own error output (`-loglevel error`) of
                    that run, read for the demuxer's and decoders' damage reports, and the
                    duration the run produced against the one the container declared

Durations are compared only where the container declares them (MP4/MOV, Matroska, FLAC, WAV,
Ogg, an MP3 with a Xing/Info/VBRI frame count, ...); where ffmpeg estimates them from the
bitrate (an MP3 without one, ADTS AAC, MPEG-TS) a shorter decode proves nothing. A file that
is complete but short is fine: its container declares what it holds.
"""

from __future__ import annotations

import os
import re
import struct

from mediaworker.errors import BadInputError
from mediaworker.processing.ffmpeg import CODEC_WHITELIST, PROTOCOLS, file_url
from mediaworker.processing.probe import Probe

__all__ = [
    "DamagedError",
    "TruncatedError",
    "check_container",
    "check_decode",
    "check_end",
    "check_end_found",
    "declared_duration_s",
    "mp3_has_frame_count",
    "with_end_scan",
]

END_SCAN_S = 5.0  # how far before the declared end the end scan starts
TOLERANCE_S = 0.5
TOLERANCE_RATIO = 0.02
OGG_TAIL_BYTES = 65536 + 27 + 255
MP3_HEAD_BYTES = 4096
# Containers whose header (or, for Ogg, last page) states the duration; see the docstring.
DECLARED_DURATION = frozenset(
    {"mov", "matroska", "flac", "wav", "w64", "ogg", "aiff", "caf", "avi", "asf", "flv"}
)
# ffmpeg's words, at -loglevel error, for data that ends early ...
TRUNCATION = re.compile(
    r"partial file|File ended prematurely|truncat|Unexpected end|end of file|"
    r"Packet corrupt|Incomplete|ran out of data",
    re.IGNORECASE,
)
# ... and for data that is there but damaged.
DAMAGE = re.compile(
    r"Error while decoding|Invalid data found|error while decoding|CRC mismatch|corrupt|"
    r"Header missing|exceeds containing master element|Invalid NAL|Error splitting the input|"
    r"decode_frame\(\) failed|invalid residual|concealing|missing picture|damaged|"
    r"Reserved bit set|channel element .* is not allocated|invalid sync code|overread",
    re.IGNORECASE,
)


REPEATED = re.compile(r"Last message repeated (\d+) times")
DAMAGE_REPORTS = 2


class TruncatedError(BadInputError):
    """The file ends before the data its container declares."""


class DamagedError(BadInputError):
    """The demuxer or a decoder reported damaged data."""


# 1. check_container


def check_container(path: str, probe: Probe) -> None:
    """The declared sizes a WAV states, and an Ogg stream's end page (other formats: nothing)."""
    if probe.demuxer == "wav":
        _check_wav(path)
    elif probe.demuxer == "ogg":
        _check_ogg(path)


def _check_wav(path: str) -> None:
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        head = file.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return  # RF64 and friends: ffprobe's word stands
        riff_size = struct.unpack("<I", head[4:8])[0]
        offset = 12
        while offset + 8 <= size:
            file.seek(offset)
            chunk_id, chunk_size = struct.unpack("<4sI", file.read(8))
            if chunk_id == b"data":
                declared = offset + 8 + chunk_size
                if chunk_size not in (0, 0xFFFFFFFF) and declared > size:
                    raise TruncatedError(_short_message(size, declared, "bytes"))
                return
            offset += 8 + chunk_size + (chunk_size & 1)
    if riff_size not in (0, 0xFFFFFFFF) and riff_size + 8 > size:
        raise TruncatedError(_short_message(size, riff_size + 8, "bytes"))


def _check_ogg(path: str) -> None:
    """The last whole page must carry the end-of-stream flag, and nothing may follow it cut."""
    size = os.path.getsize(path)
    with open(path, "rb") as file:
        file.seek(max(0, size - OGG_TAIL_BYTES))
        tail = file.read()
    start = tail.rfind(b"OggS")
    while start >= 0:
        page = tail[start:]
        if len(page) >= 27 and len(page) >= 27 + page[26]:
            body = sum(page[27 : 27 + page[26]])
            if len(page) < 27 + page[26] + body:
                raise TruncatedError("truncated: the file ends inside its last Ogg page")
            if not page[5] & 0x04:
                raise TruncatedError("truncated: the Ogg stream has no end page")
            return
        start = tail.rfind(b"OggS", 0, start)


def _short_message(size: int, declared: int, unit: str) -> str:
    return f"truncated: the file has {size} of the {declared} {unit} its header declares"


# 2. with_end_scan, check_end


def with_end_scan(argv: list[str], source: str, probe: Probe) -> list[str]:
    """`argv` (one ffmpeg input and its output) with a second input, the last END_SCAN_S
    seconds of `source`, its first video and audio streams copied to framecrc on stdout."""
    first_map = argv.index("-map")
    tail = [
        *("-protocol_whitelist", PROTOCOLS, "-format_whitelist", probe.demuxer),
        *("-codec_whitelist", CODEC_WHITELIST, "-f", probe.demuxer),
        *("-ss", f"{end_scan_start_s(probe):.3f}", "-i", file_url(source)),
    ]
    copy = ["-map", "1:v:0?", "-map", "1:a:0?", "-c", "copy", "-f", "framecrc", "pipe:1"]
    return [*argv[:first_map], *tail, *argv[first_map:], *copy]


def end_scan_start_s(probe: Probe) -> float:
    """Where the end scan starts, in the file's own time (0 for a short file)."""
    return max(0.0, (probe.duration_s or 0.0) - END_SCAN_S)


def check_end(probe: Probe, path: str, framecrc: str, stderr: str) -> None:
    """The packets copied by `with_end_scan` reach the end the container declares."""
    check_end_found(probe, path, _listed_end_s(framecrc), stderr)


def check_end_found(probe: Probe, path: str, found: float | None, log: str) -> None:
    """The last packet found from end_scan_start_s on (`found` seconds after it; None: none)
    reaches the end the container declares, and `log` reports neither truncation nor damage."""
    lines = _check_truncation(log)
    declared = declared_duration_s(probe, path)
    expected = None if declared is None else declared - end_scan_start_s(probe)
    if expected is not None and (found is None or _short(found, expected)):
        at = "before its last seconds" if found is None else f"{expected - found:.1f} s early"
        raise TruncatedError(f"truncated: the data ends {at} of the {declared:.1f} s declared")
    _check_damage(lines)


def _listed_end_s(framecrc: str) -> float | None:
    """The latest packet end in a framecrc listing ("#tb 0: 1/15360", then "0, dts, pts,
    duration, size, crc" lines), in seconds from the first packet copied."""
    time_bases: dict[str, float] = {}
    end: float | None = None
    for line in framecrc.splitlines():
        if line.startswith("#tb "):
            stream, _, base = line[4:].partition(": ")
            numerator, _, denominator = base.partition("/")
            time_bases[stream] = int(numerator) / int(denominator or 1)
            continue
        fields = [field.strip() for field in line.split(",")]
        if len(fields) >= 4 and fields[0] in time_bases and not line.startswith("#"):
            packet_end = (int(fields[2]) + int(fields[3])) * time_bases[fields[0]]
            end = packet_end if end is None else max(end, packet_end)
    return end


# 3. check_decode


def check_decode(
    probe: Probe,
    path: str,
    stderr: str,
    decoded_s: float | None,
    *,
    limit_s: float,
    audio_only: bool = False,
) -> None:
    """A decode of up to `limit_s` seconds of `path`: no damage reported, as long as declared.

    `audio_only`: the run decoded the audio track alone, held to the audio's own declared
    duration (a video's sound may stop before its pictures); unknown, it is not compared.
    """
    lines = _check_truncation(stderr)
    declared = declared_duration_s(probe, path)
    if audio_only and probe.video is not None:
        audio = probe.audio.duration_s if probe.audio is not None else None
        declared = None if declared is None else audio
    if declared is not None and decoded_s is not None and _short(decoded_s, min(declared, limit_s)):
        raise TruncatedError(
            f"truncated or damaged: only {decoded_s:.1f} s of the {declared:.1f} s declared "
            "could be decoded"
        )
    _check_damage(lines)


def declared_duration_s(probe: Probe, path: str) -> float | None:
    """The duration the container of `path` declares, or None where ffmpeg estimates it."""
    if probe.duration_s is None:
        return None
    if probe.demuxer in DECLARED_DURATION:
        return _longest_stream_s(probe)
    if probe.demuxer == "mp3" and mp3_has_frame_count(path):
        return probe.duration_s
    return None


def _longest_stream_s(probe: Probe) -> float | None:
    """The longer of the video and audio streams' declared durations (a data or subtitle
    track may run longer, and is never decoded), or the container's when neither says."""
    known = [s.duration_s for s in (probe.video, probe.audio) if s and s.duration_s is not None]
    return max(known) if known else probe.duration_s


def mp3_has_frame_count(path: str) -> bool:
    """Whether an MP3's first frame is a Xing, Info or VBRI header (its length is declared)."""
    with open(path, "rb") as file:
        head = file.read(10)
        start = 0
        if head[:3] == b"ID3" and len(head) == 10:
            size = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
            start = 10 + size + (10 if head[5] & 0x10 else 0)
        file.seek(start)
        frame = file.read(MP3_HEAD_BYTES)
    return any(tag in frame[:200] for tag in (b"Xing", b"Info", b"VBRI"))


def _short(found_s: float, expected_s: float) -> bool:
    return found_s < expected_s - max(TOLERANCE_S, TOLERANCE_RATIO * expected_s)


def _check_truncation(stderr: str) -> list[str]:
    """The lines of `stderr`, unless one of them reports that the data ends early."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    cut = _first(lines, TRUNCATION)
    if cut is not None:
        raise TruncatedError(f"truncated: the file ends inside its data ({cut})")
    return lines


def _check_damage(lines: list[str]) -> None:
    """DAMAGE_REPORTS damage reports or more: one frame that does not decode is common in
    healthy files (a short first MP3 frame); real damage reports again."""
    if _count(lines, DAMAGE) >= DAMAGE_REPORTS:
        raise DamagedError(f"damaged: {_first(lines, DAMAGE)}")


def _count(lines: list[str], pattern: re.Pattern[str]) -> int:
    """Lines matching `pattern`, with ffmpeg's "Last message repeated N times" counted N."""
    count, last = 0, False
    for line in lines:
        repeated = REPEATED.match(line)
        if repeated is not None:
            count += int(repeated.group(1)) if last else 0
            continue
        last = pattern.search(line) is not None
        count += last
    return count


def _first(lines: list[str], pattern: re.Pattern[str]) -> str | None:
    for line in lines:
        if pattern.search(line):
            text = re.sub(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*", "", line)
            text = re.sub(r"(file:)?/\S+", "<file>", text)
            return text[:100]
    return None
