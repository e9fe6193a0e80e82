"""The AI providers of one worker, built once at startup from the settings.

Which implementation serves a capability is a setting (AI_IMAGE_GENERATOR, AI_IMAGE_ENHANCER,
AI_TRANSCRIBER, AI_SPEECH, AI_PHOTO_ANALYZER): `auto` (the default) takes the real provider
whose API key is set, else the local one. The local photo analyzer is the offline detector
when `mediaworker[vision]` and its weights are installed, else `none` (nothing analysed).
A provider chosen explicitly but not usable (no key, no SDK, not offering the capability) is
replaced by one that refuses every call with NOT_CONFIGURED: the worker still runs its other
jobs, and the log says why at startup.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from mediaworker.config import ProviderChoice, ProvidersConfig, Settings
from mediaworker.errors import NotConfiguredError
from mediaworker.processing.decode import ImageLimits
from mediaworker.processing.pool import CpuPool
from mediaworker.providers import local
from mediaworker.providers.base import (
    ImageEnhancer,
    ImageGenerator,
    ImageResult,
    ImageUpscaler,
    PhotoAnalysis,
    PhotoAnalyzer,
    SpeechAudio,
    SpeechSynthesizer,
    Transcriber,
    Transcript,
)
from mediaworker.providers.tools import Tools

# Real providers per capability, in the order `auto` tries them.
OFFERED = {
    "image_generator": ("openai",),
    "image_enhancer": ("gemini", "openai"),
    "transcriber": ("openai",),
    "speech": ("openai",),
    "photo_analyzer": ("anthropic", "openai"),
}


@dataclass
class Providers:
    image_generator: ImageGenerator
    image_enhancer: ImageEnhancer
    upscaler: ImageUpscaler
    transcriber: Transcriber
    speech: SpeechSynthesizer
    photo_analyzer: PhotoAnalyzer
    clients: list[Any] = field(default_factory=list)

    async def aclose(self) -> None:
        for client in self.clients:
            if hasattr(client, "aio"):  # google-genai: the async side has its own close
                await client.aio.aclose()
            else:
                await client.close()

    def describe(self) -> dict[str, str]:
        """{capability: "provider/model"}, for the startup log."""
        return {
            name: f"{p.provider}/{p.model}"
            for name, p in vars(self).items()
            if name != "clients" and hasattr(p, "provider")
        }


def build_providers(settings: Settings, cpu: CpuPool) -> Providers:
    config = settings.providers
    builder = _Builder(settings, cpu)
    built = Providers(
        image_generator=builder.pick("image_generator", config.image_generator),
        image_enhancer=builder.pick("image_enhancer", config.image_enhancer),
        upscaler=local.LocalUpscaler(cpu, builder.limits),
        transcriber=builder.pick("transcriber", config.transcriber),
        speech=builder.pick("speech", config.speech),
        photo_analyzer=builder.pick("photo_analyzer", config.photo_analyzer),
        clients=builder.clients,
    )
    chosen = ", ".join(f"{k}={v}" for k, v in built.describe().items())
    logger.info(f"AI providers: {chosen}")
    return built


class _Builder:
    def __init__(self, settings: Settings, cpu: CpuPool) -> None:
        self.config: ProvidersConfig = settings.providers
        self.cpu = cpu
        self.limits = ImageLimits(settings.image.max_input_bytes, settings.image.max_pixels)
        media = settings.media
        self.tools = Tools(
            self.config.espeak_path,
            media.ffmpeg_path,
            media.ffprobe_path,
            self.config.command_timeout_s,
        )
        self.clients: list[Any] = []
        self._sdk: dict[str, Any] = {}

    def pick(self, capability: str, choice: ProviderChoice) -> Any:
        name = choice.value
        if choice is ProviderChoice.AUTO:
            name = next((p for p in OFFERED[capability] if self._has_key(p)), "local")
        try:
            return self._make(capability, name)
        except NotConfiguredError as exc:
            logger.bind(capability=capability).warning(f"{name}: {exc.message}")
            return Refusing(name, exc.message)

    def _has_key(self, provider: str) -> bool:
        key = getattr(self.config, f"{provider}_api_key", None)
        return key is not None and bool(key.get_secret_value())

    def _make(self, capability: str, name: str) -> Any:
        if name == "local":
            return self._local(capability)
        if name not in OFFERED[capability]:
            raise NotConfiguredError(f"{name} does not offer {capability.replace('_', ' ')}")
        factory: Callable[[], Any] = getattr(self, f"_{name}_{capability}")
        return factory()

    def _local(self, capability: str) -> Any:
        makers: dict[str, Callable[[], Any]] = {
            "image_generator": lambda: local.LocalImageGenerator(self.cpu),
            "image_enhancer": lambda: local.LocalImageEnhancer(self.cpu),
            "transcriber": lambda: local.LocalTranscriber(self.cpu),
            "speech": lambda: local.LocalSpeechSynthesizer(self.tools),
            "photo_analyzer": lambda: local.photo_analyzer(self.cpu, self.config),
        }
        return makers[capability]()

    def _client(self, provider: str) -> Any:
        """One SDK client per provider, shared by its capabilities (imported only when used)."""
        if provider not in self._sdk:
            module = importlib.import_module(f"mediaworker.providers.{provider}")
            self._sdk[provider] = module.make_client(self.config)
            self.clients.append(self._sdk[provider])
        return self._sdk[provider]

    def _openai_image_generator(self) -> Any:
        from mediaworker.providers import openai

        return openai.OpenAIImageGenerator(self._client("openai"), self.config.openai_image_model)

    def _openai_image_enhancer(self) -> Any:
        from mediaworker.providers import openai

        model, prompt = self.config.openai_image_edit_model, self.config.enhance_prompt
        return openai.OpenAIImageEnhancer(self._client("openai"), model, prompt=prompt)

    def _gemini_image_enhancer(self) -> Any:
        from mediaworker.providers import gemini

        config = self.config
        key = config.gemini_api_key.get_secret_value() if config.gemini_api_key else ""
        client = self._client("gemini")
        return gemini.GeminiImageEnhancer(
            client, config.gemini_image_model, config.enhance_prompt, key
        )

    def _openai_transcriber(self) -> Any:
        from mediaworker.providers import openai

        return openai.OpenAITranscriber(self._client("openai"), self.config.openai_transcribe_model)

    def _openai_speech(self) -> Any:
        from mediaworker.providers import openai

        config = self.config
        return openai.OpenAISpeechSynthesizer(
            self._client("openai"),
            config.openai_speech_model,
            default_voice=config.openai_speech_voice,
            tools=self.tools,
        )

    def _openai_photo_analyzer(self) -> Any:
        from mediaworker.providers import openai

        client = self._client("openai")
        return openai.OpenAIPhotoAnalyzer(client, self.config.openai_vision_model)

    def _anthropic_photo_analyzer(self) -> Any:
        from mediaworker.providers import anthropic

        client = self._client("anthropic")
        return anthropic.AnthropicPhotoAnalyzer(client, self.config.anthropic_vision_model)


@dataclass
class Refusing:
    """Stands in for a provider that cannot be used: every call fails with NOT_CONFIGURED."""

    provider: str
    reason: str
    model: str = "none"
    remote: bool = False
    default_voice: str = "none"
    input_format: str = "mp3"
    max_upload_bytes: int | None = None

    def _refuse(self) -> NotConfiguredError:
        return NotConfiguredError(f"{self.provider} is not usable: {self.reason}")

    async def generate(self, prompt: str, *, size: str, quality: str) -> ImageResult:
        raise self._refuse()

    async def enhance(self, source: Path) -> ImageResult:
        raise self._refuse()

    async def transcribe(self, audio: Path, *, language: str | None) -> Transcript:
        raise self._refuse()

    async def synthesize(
        self, text: str, *, voice: str, audio_format: str, language: str | None
    ) -> SpeechAudio:
        raise self._refuse()

    async def analyze(
        self, image: bytes, *, content_type: str, room_type: str | None = None
    ) -> PhotoAnalysis:
        raise self._refuse()
