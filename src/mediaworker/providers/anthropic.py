"""Anthropic: photo analysis (room and items, `photos.analysis`) with a Claude vision model.

Anthropic offers no image generation, transcription or speech, so this is its one capability
here. One `AsyncAnthropic` client per worker, with ANTHROPIC_BASE_URL, AI_PROVIDER_TIMEOUT_S
and AI_SDK_MAX_RETRIES; SDK exceptions are mapped at this boundary, 529 (overloaded) to
PROVIDER_DOWN, a refusal (`stop_reason` "refusal") to BAD_INPUT, a reply cut at
`stop_reason` "max_tokens" or outside the schema to `InvalidReplyError` (see `vision.py`).
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, cast

import anthropic
from anthropic.types import ImageBlockParam, JSONOutputFormatParam, TextBlockParam

from mediaworker.config import ProvidersConfig
from mediaworker.errors import NotConfiguredError
from mediaworker.photos import analysis
from mediaworker.providers import http_errors
from mediaworker.providers.base import PhotoAnalysis, Usage, count_request
from mediaworker.providers.vision import MAX_TOKENS, check_image, read_reply

PROVIDER = "anthropic"
# JSON outputs: the reply is constrained to the schema (the SDK moves the limits it cannot
# express, such as ranges, into descriptions; `read_reply` checks them again).
OUTPUT_FORMAT: JSONOutputFormatParam = {
    "type": "json_schema",
    "schema": anthropic.transform_schema(analysis.RoomAnalysis),
}


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

    async def analyze(
        self, image: bytes, *, content_type: str, room_type: str | None = None
    ) -> PhotoAnalysis:
        block: ImageBlockParam = {
            "type": "image",
            "source": {
                "type": "base64",
                "media_type": cast(Any, content_type),
                "data": check_image(PROVIDER, image, content_type),
            },
        }
        question: TextBlockParam = {"type": "text", "text": analysis.prompt(room_type)}
        async with sdk_boundary(str(self.client.api_key or "")):
            message = await self.client.messages.create(
                model=self.model,
                max_tokens=MAX_TOKENS,
                messages=[{"role": "user", "content": [block, question]}],
                output_config={"format": OUTPUT_FORMAT},
            )
        usage = Usage(
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            raw=message.usage.model_dump(mode="json", exclude_none=True),
        )
        if message.stop_reason == "refusal":
            raise http_errors.refused(PROVIDER, "the model declined this image", usage)
        text = "".join(b.text for b in message.content if b.type == "text")
        cut = message.stop_reason == "max_tokens"
        result = read_reply(PROVIDER, text, usage, room_type=room_type, cut=cut)
        return PhotoAnalysis(result, text, message.model, usage)
