"""Audio and video made at test time with ffmpeg's lavfi sources, and a check that no ffmpeg
process outlives its job.

Every maker returns the path it wrote; nothing is kept in the repository.
"""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

FFMPEG = "ffmpeg"


def ffmpeg(*args: str) -> None:
    subprocess.run(
        [FFMPEG, "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args],
        check=True,
        timeout=120,
    )


def tone(
    path: Path,
    seconds: float = 3.0,
    *,
    rate: int = 44100,
    channels: int = 1,
    frequency: int = 440,
    volume: float = 7.0,
) -> Path:
    """A sine tone at `volume` x 1/8 of full scale (lavfi's sine is 1/8): 7 gives 0.875.

    The codec follows the file name (.wav, .mp3, .ogg, .flac, .m4a).
    """
    source = f"sine=frequency={frequency}:sample_rate={rate}:duration={seconds}"
    ffmpeg("-f", "lavfi", "-i", source, "-af", f"volume={volume}", "-ac", str(channels), str(path))
    return path


def silence(path: Path, seconds: float = 2.0, *, rate: int = 22050) -> Path:
    ffmpeg("-f", "lavfi", "-i", f"anullsrc=r={rate}:cl=mono", "-t", str(seconds), str(path))
    return path


def clip(
    path: Path,
    seconds: float = 3.0,
    *,
    size: str = "640x360",
    fps: int = 25,
    audio: bool = True,
    rotate: int | None = None,
    faststart: bool = False,
) -> Path:
    """A testsrc2 video, H.264 (VP9 for .webm), with a sine track unless `audio` is False.

    `rotate` writes display-matrix rotation metadata (the frames stay as they are);
    `faststart` puts an MP4's index first, as uploads made for the web have it.
    """
    inputs = ["-f", "lavfi", "-i", f"testsrc2=size={size}:rate={fps}:duration={seconds}"]
    if audio:
        inputs += ["-f", "lavfi", "-i", f"sine=frequency=330:sample_rate=48000:duration={seconds}"]
    if path.suffix == ".webm":
        codecs = ["-c:v", "libvpx-vp9", "-b:v", "300k", "-deadline", "realtime", "-c:a", "libopus"]
    else:
        codecs = ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac"]
    codecs += ["-pix_fmt", "yuv420p"]  # -c:a is unused when there is no audio input
    if faststart:
        codecs += ["-movflags", "+faststart"]
    target = path.with_name(f"unrotated-{path.name}") if rotate is not None else path
    ffmpeg(*inputs, *codecs, "-shortest", str(target))
    if rotate is not None:
        ffmpeg("-i", str(target), "-c", "copy", "-metadata:s:v:0", f"rotate={rotate}", str(path))
        target.unlink()
    return path


def cut_short(source: Path, path: Path, fraction: float = 1 / 3) -> Path:
    """The first `fraction` of `source`'s bytes: an upload that stopped half way."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


def corrupt_middle(source: Path, path: Path, start: float = 0.45, end: float = 0.55) -> Path:
    """`source` with the bytes between `start` and `end` (fractions of its size) overwritten
    by random bytes (seeded: the same damage each run)."""
    data = bytearray(source.read_bytes())
    first, last = int(len(data) * start), int(len(data) * end)
    data[first:last] = random.Random(1).randbytes(last - first)
    path.write_bytes(bytes(data))
    return path


def mp3_with_cover(path: Path, seconds: float = 2.0) -> Path:
    """An MP3 whose ID3 tag holds a cover picture (a video stream marked attached_pic)."""
    cover = path.with_suffix(".cover.png")
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=300x300:duration=1", "-frames:v", "1", str(cover))
    ffmpeg(
        *("-f", "lavfi", "-i", f"sine=frequency=523:duration={seconds}", "-i", str(cover)),
        *("-map", "0:a", "-map", "1:v", "-c:a", "libmp3lame", "-c:v", "png"),
        *("-disposition:v:0", "attached_pic", "-id3v2_version", "3", str(path)),
    )
    cover.unlink()
    return path


def hls_playlist(path: Path, segment: Path) -> Path:
    """An HLS playlist (named as `path`, e.g. .mp4) whose one segment is a local file."""
    path.write_text(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n"
        f"#EXTINF:10.0,\n{segment}\n#EXT-X-ENDLIST\n"
    )
    return path


def concat_list(path: Path, target: Path) -> Path:
    path.write_text(f"ffconcat version 1.0\nfile '{target}'\n")
    return path


def ffmpeg_descendants(
    pid: int | None = None, names: tuple[str, ...] = ("ffmpeg", "ffprobe")
) -> list[int]:
    """Processes called one of `names` among the descendants of `pid` (this process)."""
    root = os.getpid() if pid is None else pid
    parents: dict[int, int] = {}
    command: dict[int, str] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        parents[int(entry.name)] = int(fields[1])
        command[int(entry.name)] = name
    found = []
    for child in parents:
        ancestor = parents.get(child)
        while ancestor is not None and ancestor != root and ancestor > 1:
            ancestor = parents.get(ancestor)
        if ancestor == root and command[child] in names:
            found.append(child)
    return found
