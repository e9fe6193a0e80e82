"""The demo's sample files, made on this machine: photos (pyvips), a spoken clip (espeak-ng),
a short video with sound (ffmpeg's lavfi test sources), and a deliberately truncated JPEG.

The tools run without a shell, with fixed arguments and a time limit.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pyvips

SPOKEN_TEXT = "Good morning. The weather is nice today."
TOOL_TIMEOUT_S = 60
VIDEO_SECONDS = 3


@dataclass(frozen=True)
class Samples:
    photos: list[Path]  # a landscape photo, a phone portrait stored sideways, a PNG with alpha
    audio: Path  # SPOKEN_TEXT, spoken
    video: Path  # a test pattern with a tone
    broken: Path  # the landscape photo, cut to a third

    @property
    def uploads(self) -> list[Path]:
        return [*self.photos, self.audio, self.video, self.broken]


def make_samples(folder: Path) -> Samples:
    folder.mkdir(parents=True, exist_ok=True)
    photos = [folder / "landscape.jpg", folder / "portrait_exif6.jpg", folder / "logo_alpha.png"]
    _photo(4000, 3000).jpegsave(str(photos[0]), Q=90)
    _with_orientation(_photo(3000, 2000), 6).jpegsave(str(photos[1]), Q=90)
    _with_alpha(_photo(1200, 800)).pngsave(str(photos[2]))
    broken = folder / "truncated.jpg"
    data = photos[0].read_bytes()
    broken.write_bytes(data[: len(data) // 3])
    return Samples(photos, _spoken(folder / "spoken.wav"), _video(folder / "pattern.mp4"), broken)


def _run(argv: list[str]) -> None:
    if shutil.which(argv[0]) is None:
        raise SystemExit(f"the demo needs {argv[0]}: `./scripts/run demo` installs it (apt)")
    subprocess.run(argv, check=True, capture_output=True, timeout=TOOL_TIMEOUT_S)  # noqa: S603


def _spoken(path: Path) -> Path:
    """espeak-ng speaks SPOKEN_TEXT at 16 kHz mono, as the offline transcriber hears best."""
    raw = path.with_suffix(".raw.wav")
    _run(["espeak-ng", "-v", "en-us+f3", "-s", "130", "-w", str(raw), SPOKEN_TEXT])
    _run(["ffmpeg", "-v", "error", "-y", "-i", str(raw), "-ar", "16000", "-ac", "1", str(path)])
    raw.unlink()
    return path


def _video(path: Path) -> Path:
    """A 640x360 test pattern with a 440 Hz tone, H.264 and AAC."""
    seconds = str(VIDEO_SECONDS)
    _run(
        ["ffmpeg", "-v", "error", "-y",
         "-f", "lavfi", "-i", f"testsrc2=size=640x360:rate=25:duration={seconds}",
         "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
         "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
         "-c:a", "aac", "-shortest", str(path)]
    )  # fmt: skip
    return path


def _photo(width: int, height: int) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    gx, gy = x[0] / width, x[1] / height
    r = gx * 200 + 30
    g = gy * 160 + (gx * 12).sin() * 30 + 40
    b = (gx + gy) * 90 + 60
    noise = pyvips.Image.gaussnoise(width, height, sigma=18)
    return (r.bandjoin([g, b]) + noise).cast("uchar").copy(interpretation="srgb")


def _with_orientation(image: pyvips.Image, orientation: int) -> pyvips.Image:
    image = image.copy()
    image.set_type(pyvips.GValue.gint_type, "orientation", orientation)
    return image


def _with_alpha(image: pyvips.Image) -> pyvips.Image:
    alpha = pyvips.Image.xyz(image.width, image.height)[0] / image.width * 255
    return image.bandjoin(alpha.cast("uchar"))
