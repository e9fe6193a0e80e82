"""OpenAI: image generation and editing, transcription, speech and photo analysis (Structured
Outputs: a strict JSON schema; `message.refusal` is BAD_INPUT, `finish_reason` "length" an
invalid, cut reply), through the official async SDK.

One `AsyncOpenAI` client per worker, with OPENAI_BASE_URL, AI_PROVIDER_TIMEOUT_S and the SDK's
own retries kept at AI_SDK_MAX_RETRIES (0 by default: the job's retry owns the backoff). SDK
exceptions are mapped here, at the boundary (see `http_errors`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast

import openai
from openai.lib._parsing import type_to_response_format_param
from openai.types import ImagesResponse
from openai.types.audio import Transcription
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from mediaworker.config import ProvidersConfig
from mediaworker.errors import NotConfiguredError
from mediaworker.photos import analysis
from mediaworker.processing.speech import SPEECH_ENCODINGS
from mediaworker.providers import http_errors
from mediaworker.providers.base import (
    ImageResult,
    PhotoAnalysis,
    SpeechAudio,
    Transcript,
    Usage,
    count_request,
)
from mediaworker.providers.tools import Tools, duration_s
from mediaworker.providers.vision import MAX_TOKENS, check_image, read_reply

PROVIDER = "openai"
MAX_UPLOAD_BYTES = 25 * 1024 * 1024  # the transcription endpoint's file limit
_Quality = Literal["low", "medium", "high", "auto"]
_SpeechFormat = Literal["mp3", "opus", "aac", "flac", "wav"]
# Structured Outputs: {"type": "json_schema", "json_schema": {"name", "strict": true, ...}}
RESPONSE_FORMAT = type_to_response_format_param(analysis.RoomAnalysis)


def make_client(config: ProvidersConfig) -> openai.AsyncOpenAI:
    if config.openai_api_key is None or not config.openai_api_key.get_secret_value():
        raise NotConfiguredError("OPENAI_API_KEY is not set")
    return openai.AsyncOpenAI(
        api_key=config.openai_api_key.get_secret_value(),
        base_url=config.openai_base_url or None,
        timeout=config.timeout_s,
        max_retries=config.sdk_max_retries,
        http_client=openai.DefaultAsyncHttpxClient(event_hooks={"request": [count_request]}),
    )


def sdk_boundary(secret: str) -> AbstractAsyncContextManager[None]:
    """Turn whatever the SDK raises into our errors."""
    return http_errors.stainless_boundary(openai, PROVIDER, secret)


@dataclass
class _OpenAI:
    client: openai.AsyncOpenAI
    model: str
    provider: str = PROVIDER
    remote: bool = True

    def _secret(self) -> str:
        return str(self.client.api_key or "")


class OpenAIImageGenerator(_OpenAI):
    async def generate(self, prompt: str, *, size: str, quality: str) -> ImageResult:
        async with sdk_boundary(self._secret()):
            response = await self.client.images.generate(
                model=self.model,
                prompt=prompt,
                size=size,
                quality=cast(_Quality, quality),
                n=1,
                output_format="png",
            )
        return ImageResult(_first_image(response), "image/png", _image_usage(response))


@dataclass
class OpenAIImageEnhancer(_OpenAI):
    prompt: str = ""

    async def enhance(self, source: Path) -> ImageResult:
        data = await asyncio.to_thread(source.read_bytes)
        async with sdk_boundary(self._secret()):
            response = await self.client.images.edit(
                model=self.model,
                image=("photo.jpg", data, "image/jpeg"),
                prompt=self.prompt,
                input_fidelity="high",
                size="auto",
                n=1,
                output_format="png",
            )
        return ImageResult(_first_image(response), "image/png", _image_usage(response))


class OpenAITranscriber(_OpenAI):
    input_format = "mp3"
    max_upload_bytes: int | None = MAX_UPLOAD_BYTES

    async def transcribe(self, audio: Path, *, language: str | None) -> Transcript:
        data = await asyncio.to_thread(audio.read_bytes)
        extra: dict[str, Any] = {"language": language} if language else {}
        async with sdk_boundary(self._secret()):
            result = await self.client.audio.transcriptions.create(
                model=self.model,
                file=(audio.name, data),
                response_format="json",
                **extra,
            )
        if not isinstance(result, Transcription):
            raise http_errors.malformed(PROVIDER, "no transcription in the answer")
        detected = result.languages[0].code if result.languages else None
        return Transcript(result.text, language or detected, _transcription_usage(result))


@dataclass
class OpenAISpeechSynthesizer(_OpenAI):
    default_voice: str = "marin"
    tools: Tools | None = None  # to measure the audio's duration (its cost is per second)

    async def synthesize(
        self, text: str, *, voice: str, audio_format: str, language: str | None
    ) -> SpeechAudio:
        async with sdk_boundary(self._secret()):
            response = await self.client.audio.speech.create(
                model=self.model,
                voice=voice,
                input=text,
                response_format=cast(_SpeechFormat, audio_format),
            )
        content_type = response.response.headers.get("content-type", "")
        if not content_type.startswith(("audio/", "application/octet-stream")):
            raise http_errors.malformed(PROVIDER, f"{content_type[:40] or 'no type'}, not audio")
        data = response.content
        _, _, content_type, ext = SPEECH_ENCODINGS[audio_format]
        seconds = await duration_s(self.tools, data, ext) if self.tools else None
        usage = Usage(characters=len(text), audio_seconds=seconds, raw={"bytes": len(data)})
        return SpeechAudio(data, content_type, usage)


class OpenAIPhotoAnalyzer(_OpenAI):
    async def analyze(
        self, image: bytes, *, content_type: str, room_type: str | None = None
    ) -> PhotoAnalysis:
        data = check_image(PROVIDER, image, content_type)
        messages: list[ChatCompletionMessageParam] = [
            {"role": "system", "content": analysis.prompt(room_type)},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "The room to list:"},
                    {
                        "type": "image_url",
                        "image_url": {"url": f"data:{content_type};base64,{data}"},
                    },
                ],
            },
        ]
        async with sdk_boundary(self._secret()):
            completion = await self.client.chat.completions.create(
                model=self.model,
                messages=messages,
                response_format=cast(Any, RESPONSE_FORMAT),
                max_completion_tokens=MAX_TOKENS,
            )
        return _photo_analysis(completion, room_type)


def _photo_analysis(completion: ChatCompletion, room_type: str | None) -> PhotoAnalysis:
    usage = _chat_usage(completion)
    if not completion.choices:
        raise http_errors.malformed(PROVIDER, "no choice in the answer")
    choice = completion.choices[0]
    if choice.message.refusal:
        raise http_errors.refused(PROVIDER, f"the model declined: {choice.message.refusal}", usage)
    text = choice.message.content or ""
    cut = choice.finish_reason == "length"
    result = read_reply(PROVIDER, text, usage, room_type=room_type, cut=cut)
    return PhotoAnalysis(result, text, completion.model, usage)


def _chat_usage(completion: ChatCompletion) -> Usage:
    usage = completion.usage
    if usage is None:
        return Usage()
    return Usage(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        raw=usage.model_dump(mode="json", exclude_none=True),
    )


def _first_image(response: ImagesResponse) -> bytes:
    encoded = response.data[0].b64_json if response.data else None
    if not encoded:
        raise http_errors.malformed(PROVIDER, "no image in the answer")
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise http_errors.malformed(PROVIDER, "the image is not valid base64") from None


def _image_usage(response: ImagesResponse) -> Usage:
    usage = response.usage
    if usage is None:
        return Usage(images=1)
    priced = {"input_image_tokens": usage.input_tokens_details.image_tokens}
    return Usage(
        input_tokens=usage.input_tokens,
        output_tokens=usage.output_tokens,
        images=1,
        priced=priced,
        raw=usage.model_dump(mode="json"),
    )


def _transcription_usage(result: Transcription) -> Usage:
    usage = result.usage
    if usage is None:
        return Usage()
    raw = usage.model_dump(mode="json")
    if usage.type == "duration":
        return Usage(audio_seconds=usage.seconds, raw=raw)
    return Usage(input_tokens=usage.input_tokens, output_tokens=usage.output_tokens, raw=raw)
