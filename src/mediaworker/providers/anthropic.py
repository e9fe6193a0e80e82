"""Anthropic: photo analysis (a description and tags) with a Claude vision model.

Anthropic offers no image generation, transcription or speech, so this is its one capability
here. One `AsyncAnthropic` client per worker, with ANTHROPIC_BASE_URL, AI_PROVIDER_TIMEOUT_S
and AI_SDK_MAX_RETRIES; SDK exceptions are mapped at this boundary, 529 (overloaded) to
PROVIDER_DOWN, a refusal (`stop_reason` "refusal") to BAD_INPUT.
"""

from __future__ import annotations

import base64
import json
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, cast

import anthropic
from anthropic.types import ImageBlockParam, TextBlockParam

from mediaworker.config import ProvidersConfig
from mediaworker.errors import NotConfiguredError
from mediaworker.providers import http_errors
from mediaworker.providers.base import PhotoAnalysis, Usage, count_request

PROVIDER = "anthropic"
MAX_TOKENS = 400
PROMPT = (
    "Describe this photo for an image library. Answer with JSON only, in this shape: "
    '{"description": "<one or two sentences>", "tags": ["<up to ten lower-case tags>"]}'
)
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")


def make_client(config: ProvidersConfig) -> anthropic.AsyncAnthropic:
    if config.anthropic_api_key is None or not config.anthropic_api_key.get_secret_value():
        raise NotConfiguredError("ANTHROPIC_API_KEY is not set")
    return anthropic.AsyncAnthropic(
        api_key=config.anthropic_api_key.get_secret_value(),
        base_url=config.anthropic_base_url or None,
        timeout=config.timeout_s,
        max_retries=config.sdk_max_retries,
        http_client=anthropic.DefaultAsyncHttpxClient(event_hooks={"request": [count_request]}),
    )


def sdk_boundary(secret: str) -> AbstractAsyncContextManager[None]:
    """Turn whatever the SDK raises into our errors."""
    return http_errors.stainless_boundary(anthropic, PROVIDER, secret)


@dataclass
class AnthropicPhotoAnalyzer:
    client: anthropic.AsyncAnthropic
    model: str
    provider: str = PROVIDER
    remote: bool = True

    async def analyze(self, image: bytes, *, content_type: str) -> PhotoAnalysis:
        if content_type not in IMAGE_TYPES:
            raise http_errors.refused(PROVIDER, f"{content_type[:40]} is not an image it reads")
        block: ImageBlockParam = {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": cast(Any, content_type),
                "data": base64.b64encode(image).decode(),
            },
        }
        question: TextBlockParam = {"type": "text", "text": PROMPT}
        async with sdk_boundary(str(self.client.api_key or "")):
            message = await self.client.messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                messages=[{"role": "user", "content": [block, question]}],
            )
        usage = Usage(
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            raw=message.usage.model_dump(mode="json", exclude_none=True),
        )
        if message.stop_reason == "refusal":
            raise http_errors.refused(PROVIDER, "the model declined this image", usage)
        text = "".join(b.text for b in message.content if b.type == "text")
        return _analysis(text, usage)


def _analysis(text: str, usage: Usage) -> PhotoAnalysis:
    try:
        found = json.loads(text)
        tags = tuple(str(t)[:40] for t in found.get("tags", [])[:10])
        return PhotoAnalysis(str(found["description"])[:1000], tags, usage)
    except (ValueError, KeyError, TypeError, AttributeError):
        if not text.strip():
            raise http_errors.malformed(PROVIDER, "an empty answer") from None
        return PhotoAnalysis(text.strip()[:1000], (), usage)
