"""Offline providers: real work on this machine, or a refusal; never a pretend model.

- image generation: a labelled placeholder (the prompt on a gradient, marked synthetic), model
  "placeholder", and every result says `synthetic`
- image enhancement: libvips, local contrast equalisation (CLAHE) and sharpening
- upscale: libvips lanczos3, with a limit on the output's pixels
- transcription: pocketsphinx, US English only (its model ships in the wheel)
- speech: espeak-ng, encoded by ffmpeg
- photo analysis: YOLOv4-tiny detections of furniture and appliances with a rule for the room
  (`processing/detect.py`), flagged as estimates, when `mediaworker[vision]` and the weights
  are installed; else provider `none`: no items, the photo counted as not analysed

The CPU-heavy parts run in the worker's process pool; espeak-ng and ffmpeg as subprocesses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mediaworker.config import ProvidersConfig
from mediaworker.errors import BadInputError, NotConfiguredError
from mediaworker.photos.analysis import RoomAnalysis, RoomType
from mediaworker.processing import detect, recognize, retouch
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.pool import CpuPool
from mediaworker.processing.speech import SPEECH_ENCODINGS
from mediaworker.providers import tools
from mediaworker.providers.base import (
    ImageResult,
    PhotoAnalysis,
    Segment,
    SpeechAudio,
    Transcript,
    Usage,
)

PROVIDER = "local"
PLACEHOLDER_SIDE = 1024
MAX_PLACEHOLDER_SIDE = 4096


@dataclass
class LocalImageGenerator:
    cpu: CpuPool
    model: str = "placeholder"
    provider: str = PROVIDER
    remote: bool = False

    async def generate(self, prompt: str, *, size: str, quality: str) -> ImageResult:
        width, height = _size(size)
        image = await self.cpu.run(retouch.placeholder, prompt, width, height)
        return ImageResult(image.data, image.content_type, Usage(images=1), synthetic=True)


@dataclass
class LocalImageEnhancer:
    cpu: CpuPool
    quality: int = 90
    model: str = "vips-clahe-sharpen"
    provider: str = PROVIDER
    remote: bool = False

    async def enhance(self, source: Path) -> ImageResult:
        image = await self.cpu.run(retouch.enhance, str(source), self.quality)
        return ImageResult(image.data, image.content_type, Usage(images=1))


@dataclass
class LocalUpscaler:
    cpu: CpuPool
    limits: ImageLimits
    model: str = "vips-lanczos3"
    provider: str = PROVIDER
    remote: bool = False

    async def upscale(self, source: Path, *, scale: int, max_pixels: int) -> ImageResult:
        image = await self.cpu.run(retouch.upscale, str(source), scale, self.limits, max_pixels)
        usage = Usage(images=1)
        return ImageResult(image.data, image.content_type, usage, False, image.width, image.height)


@dataclass
class LocalTranscriber:
    cpu: CpuPool
    model: str = recognize.MODEL
    provider: str = PROVIDER
    remote: bool = False
    input_format: str = "wav"
    max_upload_bytes: int | None = None

    async def transcribe(self, audio: Path, *, language: str | None) -> Transcript:
        if language and not language.lower().startswith("en"):
            raise NotConfiguredError(
                f"the offline transcriber knows only English, not {language!r}: "
                "set OPENAI_API_KEY for other languages"
            )
        found = await self.cpu.run(recognize.recognize, str(audio))
        segments = tuple(Segment(u.start_s, u.end_s, u.text) for u in found.utterances)
        usage = Usage(audio_seconds=found.duration_s)
        return Transcript(found.text, "en", usage, segments)


@dataclass
class LocalSpeechSynthesizer:
    tools: tools.Tools
    default_voice: str = "en"
    model: str = "espeak-ng"
    provider: str = PROVIDER
    remote: bool = False

    async def synthesize(
        self, text: str, *, voice: str, audio_format: str, language: str | None
    ) -> SpeechAudio:
        """espeak-ng speaks with the voice of `language` when the voice is not one of its own
        (an OpenAI voice name such as "alloy" means nothing to it)."""
        espeak_voice = voice
        if voice in OPENAI_VOICES or voice == self.default_voice:
            espeak_voice = language or self.default_voice
        data, seconds = await tools.speak(
            self.tools, text, voice=espeak_voice, audio_format=audio_format
        )
        content_type = SPEECH_ENCODINGS[audio_format][2]
        return SpeechAudio(data, content_type, Usage(characters=len(text), audio_seconds=seconds))


def photo_analyzer(cpu: CpuPool, config: ProvidersConfig) -> LocalPhotoAnalyzer | NoPhotoAnalyzer:
    """The offline detector when its files are there (VISION_WEIGHTS_DIR or the wheel's)."""
    folder = detect.weights_dir(config.vision_weights_dir)
    return NoPhotoAnalyzer() if folder is None else LocalPhotoAnalyzer(cpu, str(folder))


@dataclass
class LocalPhotoAnalyzer:
    cpu: CpuPool
    weights_dir: str
    model: str = detect.MODEL
    provider: str = PROVIDER
    remote: bool = False

    async def analyze(
        self, image: bytes, *, content_type: str, room_type: str | None = None
    ) -> PhotoAnalysis:
        if content_type != "image/jpeg":
            raise BadInputError(f"the offline detector reads prepared JPEGs, not {content_type}")
        found = await self.cpu.run(detect.analyze_room, image, self.weights_dir, room_type)
        return PhotoAnalysis(found.analysis, found.raw(), self.model, Usage(images=1), "detector")


@dataclass
class NoPhotoAnalyzer:
    """No key and no detector: the photo is not analysed, and says so (never an invented
    room or item)."""

    model: str = "none"
    provider: str = "none"
    remote: bool = False

    async def analyze(
        self, image: bytes, *, content_type: str, room_type: str | None = None
    ) -> PhotoAnalysis:
        room = RoomType(room_type) if room_type else RoomType.OTHER
        nothing = RoomAnalysis(room_type=room, room_label=None, room_confidence=0.0, items=[])
        return PhotoAnalysis(nothing, "", self.model, Usage(), "none")


OPENAI_VOICES = frozenset(
    [
        "alloy",
        "ash",
        "ballad",
        "cedar",
        "coral",
        "echo",
        "fable",
        "marin",
        "nova",
        "onyx",
        "sage",
        "shimmer",
        "verse",
    ]
)


def _size(size: str) -> tuple[int, int]:
    if size == "auto":
        return PLACEHOLDER_SIDE, PLACEHOLDER_SIDE
    width, _, height = size.partition("x")
    w, h = int(width), int(height)
    if not (16 <= w <= MAX_PLACEHOLDER_SIDE and 16 <= h <= MAX_PLACEHOLDER_SIDE):
        raise BadInputError(f"size {size} is not within 16x16 .. 4096x4096")
    return w, h
