"""A video's poster frame decoded in a CPU-pool process (PyAV), straight into the thumbnails.

`poster_thumbnails(request, sizes, encode)` runs these steps, each a function below, in order:

1. open        the container with the demuxer the probe found pinned, libav's protocol and
               format whitelists, and the probe's video stream, whose decoder must be one of
               CODEC_WHITELIST (processing/ffmpeg.py)
2. decode_at   seek to the keyframe before each time of `at_s` in turn and decode up to the
               first frame at or after it; a container may claim more than its frames hold,
               so past the last frame the next time is tried (the start)
3. upright     the frame as 8-bit RGB; non-square pixels made square by shrinking one side,
               never by stretching the other (a 40:1 sample aspect ratio on 1280x720 gives
               1280x18, not a 111 MB frame); the display rotation applied
4. scan_end    the packets of the last END_SCAN_S seconds demuxed (not decoded): where the
               data really ends, for integrity.check_end_found (a file cut short)
5. thumbnails  the frame through the image pipeline's own steps (image.thumbnails_of)

What the libav libraries log while this runs is returned with the result: the caller reads
it for truncation and damage as it reads ffmpeg's error output (processing/integrity.py).

Why in-process and not the `ffmpeg` command, as the other video jobs do: the command spends
about 50 ms of a poster's 110 loading its libraries, and a warm pool process has them loaded.
The process is the same kind of sandbox: its own memory limit, no secrets in its environment,
killed when the job's time runs out (processing/pool.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import av.logging
import numpy as np
import pyvips

from mediaworker.errors import BadInputError
from mediaworker.processing.ffmpeg import CODEC_WHITELIST, file_url, thumbnail_at
from mediaworker.processing.image import EncodeSpec, SizeSpec, Thumbnails, thumbnails_of
from mediaworker.processing.integrity import end_scan_start_s
from mediaworker.processing.probe import Probe

NO_FRAME = "no video frame could be decoded"
TURN = {90: "d270", 180: "d180", 270: "d90"}  # counter-clockwise display turn -> libvips rot
DECODERS = frozenset(CODEC_WHITELIST.split(","))


@dataclass(frozen=True)
class FrameRequest:
    path: str
    demuxer: str  # the probe's, pinned: "mov", "matroska", ...
    stream_index: int  # the probe's video stream
    at_s: tuple[float, ...]  # the times to try, in order
    end_scan_from_s: float  # where the end scan starts, in the file's own time
    rotation: int  # counter-clockwise degrees for display (the probe's): 0, 90, 180, 270
    max_pixels: int
    threads: int = 1


def frame_request(
    path: str, probe: Probe, *, preferred_s: float, max_pixels: int, threads: int = 1
) -> FrameRequest:
    """The poster frame of `path`: at `preferred_s` (half the duration of a shorter video),
    else at the start; the end scanned from integrity.end_scan_start_s."""
    video = probe.video
    if video is None:
        raise BadInputError("no video track")
    return FrameRequest(
        path=path,
        demuxer=probe.demuxer,
        stream_index=video.index,
        at_s=tuple(dict.fromkeys((thumbnail_at(probe, preferred_s), 0.0))),
        end_scan_from_s=end_scan_start_s(probe),
        rotation=video.rotation,
        max_pixels=max_pixels,
        threads=threads,
    )


@dataclass(frozen=True)
class PosterThumbnails:
    thumbnails: Thumbnails | None  # None: no frame decoded (see `failure`)
    at_s: float | None  # the time the frame was taken at
    end_s: float | None  # the last packet's end, in seconds after end_scan_from_s
    log: str  # what libav reported, one message a line ("[source] message")
    failure: str | None = None  # why no frame decoded


def poster_thumbnails(
    request: FrameRequest, sizes: Sequence[SizeSpec], encode: EncodeSpec
) -> PosterThumbnails:
    """The poster in every size; without thumbnails (and the reason in `failure`) when no
    frame decodes, so that the caller's end check can say the file is truncated first."""
    with _captured_log() as log, _opened(request) as container:
        stream = container.streams[request.stream_index]
        stream.codec_context.thread_count = request.threads
        ratio = stream.codec_context.sample_aspect_ratio
        try:
            frame, at_s = decode_at(container, stream, request.at_s)
        except BadInputError as exc:
            frame, at_s, failure = None, None, str(exc)
        end_s = scan_end(container, request.end_scan_from_s)
    lines = "\n".join(f"[{name}] {message.strip()}" for _, name, message in log)
    if frame is None:
        return PosterThumbnails(None, None, end_s, lines, failure)
    image = upright(frame, ratio, request.rotation)
    thumbnails = thumbnails_of(image, "video", (image.width, image.height), sizes, encode)
    return PosterThumbnails(thumbnails, at_s, end_s, lines)


@contextlib.contextmanager
def _captured_log() -> Iterator[list[tuple[int, str, str]]]:
    """libav's messages at ERROR and above, as `ffmpeg -loglevel error` prints them."""
    av.logging.set_level(av.logging.ERROR)
    try:
        with av.logging.Capture() as captured:
            yield captured
    finally:
        av.logging.set_level(None)


# 1. open


@contextlib.contextmanager
def _opened(request: FrameRequest) -> Iterator[Any]:
    options = {"protocol_whitelist": "file", "format_whitelist": request.demuxer}
    try:
        container = av.open(file_url(request.path), format=request.demuxer, options=options)
    except av.FFmpegError as exc:
        raise BadInputError(f"cannot open the video: {_reason(exc)}") from exc
    try:
        streams = container.streams
        if not 0 <= request.stream_index < len(streams):
            raise BadInputError("the video stream the probe found is not there")
        stream: Any = streams[request.stream_index]
        if stream.type != "video" or stream.codec_context.name not in DECODERS:
            raise BadInputError(f"not an accepted video stream ({stream.codec_context.name})")
        width, height = stream.codec_context.width, stream.codec_context.height
        if width * height > request.max_pixels:
            raise BadInputError(f"video frames are {width}x{height}, over the pixel limit")
        yield container
    finally:
        container.close()


# 2. decode_at


def decode_at(container: Any, stream: Any, times_s: Sequence[float]) -> tuple[Any, float]:
    """The first frame at or after each time in turn, and that time; BadInputError if none
    (with libav's reason when decoding failed, the data ending early among them)."""
    reason = NO_FRAME
    for at_s in times_s:
        try:
            container.seek(int(at_s / stream.time_base), stream=stream, backward=True)
            for frame in container.decode(stream):
                if frame.time is None or frame.time >= at_s - 1e-3:
                    return frame, at_s
        except av.FFmpegError as exc:
            reason = f"cannot decode the video: {_reason(exc)}"
    raise BadInputError(reason)


# 3. upright


def upright(frame: Any, ratio: Fraction | None, rotation: int) -> Any:
    """The frame as an sRGB libvips image: square pixels, the display rotation applied (made
    in memory once, as the three sizes read it; an upright square-pixel frame is used as is)."""
    pixels = np.ascontiguousarray(frame.to_ndarray(format="rgb24"))  # rows may be padded
    rows, columns, _ = pixels.shape
    image = pyvips.Image.new_from_memory(pixels.data, columns, rows, 3, "uchar")
    image = image.copy(interpretation="srgb")
    stretched = ratio is not None and ratio > 0 and ratio != 1
    if stretched and ratio is not None:
        width = max(1, int(columns * min(Fraction(1), ratio)))
        height = max(1, int(rows * min(Fraction(1), 1 / ratio)))
        image = image.resize(width / columns, vscale=height / rows, kernel="lanczos3")
    turn = TURN.get(rotation % 360)
    if turn:
        image = image.rot(turn)
    return image.copy_memory() if stretched or turn else image


# 4. scan_end


def scan_end(container: Any, from_s: float) -> float | None:
    """The latest end of a video or audio packet from `from_s` on, in seconds after `from_s`;
    None if no packet was found there. A read error ends the scan where the data ends."""
    kept = [s for s in container.streams if s.type in ("video", "audio")]
    start = container.start_time / av.time_base if container.start_time is not None else 0.0
    end: float | None = None
    try:
        container.seek(int((from_s + start) * av.time_base), backward=True)
        for packet in container.demux(kept):
            if packet.pts is None or packet.time_base is None:
                continue
            packet_end = float((packet.pts + (packet.duration or 0)) * packet.time_base)
            end = packet_end if end is None else max(end, packet_end)
    except av.FFmpegError:
        pass  # the log holds what libav said; the end found so far is the answer
    return None if end is None else end - start - from_s


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "strerror", None) or exc).splitlines()[0][:100]
