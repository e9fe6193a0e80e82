"""Memory per job is bounded: pixel caps per operation, output sizes checked before they are
made, and a memory limit on every child process (the CPU pool's and ffmpeg's).

Peak memory is the child's own high-water mark: VmHWM of a pool process (read from /proc
while it lives), ru_maxrss of an ffmpeg reaped with wait4. The review's files are made here:
a 100 MP PNG of one colour (about 100 KB), a 100 MP GIF, a video with a 40:1 sample aspect
ratio.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import pyvips
from arq.connections import ArqRedis

from conftest import TESTDATA, manifest, run_burst
from mediaworker import client
from mediaworker.config import ImageConfig, Settings
from mediaworker.db import media as media_db
from mediaworker.db.pool import Pool
from mediaworker.errors import BadInputError, TransientError
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.ffmpeg import PreviewSpec, preview_argv, probe_argv
from mediaworker.processing.frame import frame_request, poster_thumbnails
from mediaworker.processing.image import EncodeSpec, SizeSpec, make_thumbnails
from mediaworker.processing.pool import CpuPool
from mediaworker.processing.probe import parse_probe
from mediaworker.storage import layout
from mediaworker.storage.base import Storage
from mediaworker.subprocesses import TOOL_LIMITS, run_tool

OUT_OF_MEMORY_TOOL = (
    "import sys; sys.stderr.write('av_malloc: Cannot allocate memory\\n'); sys.exit(1)"
)
GB = 1024**3
MB = 1024**2
SIZES = [
    SizeSpec("THUMBNAIL", 150, 150, crop=True),
    SizeSpec("MEDIUM", 800, 600, crop=False),
    SizeSpec("LARGE", 1920, 1080, crop=False),
]
CONFIG = ImageConfig()
LIMITS = ImageLimits(CONFIG.max_input_bytes, CONFIG.max_pixels, CONFIG.max_gif_pixels)
SIDE_100_MP = 10_000


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def one_colour(path: Path, side: int) -> Path:
    colour = pyvips.Image.black(side, side, bands=3).linear(1, [200, 120, 40])
    image = colour.cast("uchar")
    image = image.copy(interpretation="srgb")
    if path.suffix == ".png":
        image.pngsave(str(path), compression=9, palette=True)  # about 100 KB
    else:
        image.write_to_file(str(path))
    return path


@pytest.fixture(scope="module")
def review_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Path]]:
    folder = tmp_path_factory.mktemp("review")
    yield {
        "png": one_colour(folder / "flat.png", SIDE_100_MP),
        "gif": one_colour(folder / "flat.gif", SIDE_100_MP),
    }


async def test_no_image_of_the_corpus_or_the_review_takes_1_gb_in_the_pool(
    review_files: dict[str, Path],
) -> None:
    images = [TESTDATA / e["path"] for e in manifest("image")]
    broken = sorted((TESTDATA / "broken").glob("*")) if (TESTDATA / "broken").is_dir() else []
    pool = CpuPool(1, memory_limit_bytes=GB)
    try:
        await pool.start()
        outcomes = {}
        for path in [*images, *broken, review_files["png"]]:
            try:
                await pool.run(make_thumbnails, str(path), SIZES, EncodeSpec("jpeg", 82), LIMITS)
                outcomes[path.name] = "made"
            except BadInputError:
                outcomes[path.name] = "refused"
        (pid,) = pool.pids()
        peak = peak_rss_bytes(pid)
    finally:
        pool.close()

    assert outcomes["flat.png"] == "made"  # streamed: a 100 MP PNG needs little memory
    assert peak < GB, f"{peak / MB:.0f} MB"


def test_a_100_mp_gif_is_refused_from_its_header(review_files: dict[str, Path]) -> None:
    with pytest.raises(BadInputError, match=r"over the 50 MP limit for a GIF"):
        make_thumbnails(str(review_files["gif"]), SIZES, EncodeSpec("jpeg", 82), LIMITS)


async def upload(db: Pool, storage: Storage, path: Path) -> media_db.Media:
    media_id = uuid.uuid4().hex
    key = layout.original_key(media_id, path.suffix.lstrip("."))
    stored = await storage.put_file(key, path, content_type="image/png")
    new = media_db.NewMedia(
        media_id, media_db.MediaKind.IMAGE, key, path.name, "image/png", stored.size_bytes
    )
    return await media_db.insert(db, new)


@pytest.mark.slow
async def test_local_enhancement_of_a_100_mp_png_is_refused_before_it_is_decoded(
    db: Pool,
    redis: ArqRedis,
    storage: Storage,
    settings: Settings,
    review_files: dict[str, Path],
) -> None:
    original = await upload(db, storage, review_files["png"])
    assert original.size_bytes < 1_000_000  # small on disk, 300 MB as pixels, 2 GB to enhance

    job = await client.enqueue_enhance_image(redis, original.id)
    await run_burst(settings)

    state = await client.job_status(redis, job.job_id)
    assert state.error is not None and state.error["code"] == "BAD_INPUT", state
    assert "over the 24 MP limit" in state.error["message"]
    assert await media_db.get(db, layout.enhanced_media_id(original.id)) is None


@pytest.fixture(scope="module")
def stretched_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1280x720 stored, with a 40:1 sample aspect ratio: displayed 51200 pixels wide."""
    path = tmp_path_factory.mktemp("sar") / "stretched.mp4"
    subprocess.run(
        [
            *("ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"),
            *("-i", "testsrc2=size=1280x720:rate=25:duration=3", "-vf", "setsar=40"),
            *("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)),
        ],
        check=True,
    )
    return path


# A fresh, small process runs the command and reports its peak: ru_maxrss is carried across
# fork and exec, so measured from the test process it would start at pytest's own peak.
MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss * 1024)
"""


def run_measured(argv: list[str]) -> tuple[int, int]:
    """Exit status and peak resident bytes of one process."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, *argv], capture_output=True, text=True, check=True
    )
    status, peak = done.stdout.split()
    return int(status), int(peak)


async def test_a_tool_out_of_memory_under_the_limit_is_bad_input_not_retried(
    tool_memory_limit: int,
) -> None:
    argv = [sys.executable, "-c", OUT_OF_MEMORY_TOOL]

    with pytest.raises(BadInputError, match="more memory than a media tool may use"):
        await run_tool(argv, timeout_s=30, what="a decode")


async def test_a_tool_out_of_memory_without_our_limit_is_retried(
    no_tool_memory_limit: None,
) -> None:
    argv = [sys.executable, "-c", OUT_OF_MEMORY_TOOL]

    with pytest.raises(TransientError):
        await run_tool(argv, timeout_s=30, what="a decode")


async def test_a_stretching_sample_aspect_ratio_gives_a_poster_frame_no_larger_than_stored(
    stretched_video: Path,
) -> None:
    """Square pixels by shrinking one side: 1280x18, not the 51200x720 (111 MB) display size,
    decoded in a pool process held to 400 MB."""
    found = await run_tool(probe_argv("ffprobe", str(stretched_video)), timeout_s=30, what="probe")
    request = frame_request(
        str(stretched_video), parse_probe(found.stdout), preferred_s=1.0, max_pixels=10**8
    )
    pool = CpuPool(1, memory_limit_bytes=400 * MB)
    try:
        await pool.start()
        poster = await pool.run(poster_thumbnails, request, SIZES, EncodeSpec("jpeg", 80))
    finally:
        pool.close()

    assert poster.thumbnails is not None
    assert (poster.thumbnails.source_width, poster.thumbnails.source_height) == (1280, 18)


ALLOCATE_AFTER_START = """
import resource, sys, time
time.sleep(0.3)
print(resource.getrlimit(resource.RLIMIT_DATA)[0], flush=True)
bytearray(int(sys.argv[1]))
"""


@pytest.fixture
def tool_memory_limit() -> Iterator[int]:
    before = TOOL_LIMITS.memory_bytes
    TOOL_LIMITS.memory_bytes = 256 * MB
    yield TOOL_LIMITS.memory_bytes
    TOOL_LIMITS.memory_bytes = before


@pytest.fixture
def no_tool_memory_limit() -> Iterator[None]:
    before = TOOL_LIMITS.memory_bytes  # a worker started by an earlier test may have set it
    TOOL_LIMITS.memory_bytes = None
    yield
    TOOL_LIMITS.memory_bytes = before


async def test_tools_run_under_the_memory_limit(tool_memory_limit: int) -> None:
    argv = [sys.executable, "-c", ALLOCATE_AFTER_START]

    small = await run_tool([*argv, str(64 * MB)], timeout_s=30, what="a small allocation")
    with pytest.raises(BadInputError, match="MemoryError"):
        await run_tool([*argv, str(512 * MB)], timeout_s=30, what="a big allocation")

    assert int(small.stdout) == tool_memory_limit


async def test_a_stretching_sample_aspect_ratio_gives_a_preview_no_wider_than_stored(
    stretched_video: Path, tmp_path: Path
) -> None:
    found = await run_tool(probe_argv("ffprobe", str(stretched_video)), timeout_s=30, what="probe")
    clip = tmp_path / "preview.mp4"
    spec = PreviewSpec(seconds=2, max_lines=480, crf=30, preset="ultrafast", audio_kbps=64)
    argv = preview_argv("ffmpeg", str(stretched_video), parse_probe(found.stdout), str(clip), spec)

    status, peak = await asyncio.to_thread(run_measured, argv)

    assert status == 0
    made = await run_tool(probe_argv("ffprobe", str(clip)), timeout_s=30, what="probe")
    video = parse_probe(made.stdout).video
    assert video is not None and (video.width, video.height) == (1280, 18)  # was 34134x480
    assert peak < 300 * MB, f"ffmpeg peaked at {peak / MB:.0f} MB"
