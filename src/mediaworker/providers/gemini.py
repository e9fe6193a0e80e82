"""Gemini: portrait enhancement with a Gemini image model, as the original deployment did.

Optional: `pip install 'mediaworker[gemini]'` (google-genai). One client per worker, with
GEMINI_BASE_URL, AI_PROVIDER_TIMEOUT_S and the SDK's retries set to AI_SDK_MAX_RETRIES + 1
attempts. Its errors are mapped here: `APIError.code` is the HTTP status; below HTTP it raises
`TimeoutError` and aiohttp's or httpx's connection errors (both `OSError`s or mapped by name).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mediaworker.config import ProvidersConfig
from mediaworker.errors import MediaWorkerError, NetworkError, NotConfiguredError
from mediaworker.providers import http_errors
from mediaworker.providers.base import ImageResult, Usage

try:
    from google import genai
    from google.genai import errors as genai_errors
    from google.genai import types as genai_types

    HAVE_GENAI = True
except ImportError:  # the optional extra is not installed
    HAVE_GENAI = False

PROVIDER = "gemini"
REFUSALS = {"SAFETY", "PROHIBITED_CONTENT", "IMAGE_SAFETY", "BLOCKLIST", "RECITATION"}
_DELAY = re.compile(r"^(\d+(?:\.\d+)?)s$")


def make_client(config: ProvidersConfig) -> Any:
    if not HAVE_GENAI:
        raise NotConfiguredError("Gemini needs google-genai: pip install 'mediaworker[gemini]'")
    if config.gemini_api_key is None or not config.gemini_api_key.get_secret_value():
        raise NotConfiguredError("GEMINI_API_KEY is not set")
    options = genai_types.HttpOptions(
        base_url=config.gemini_base_url,
        timeout=int(config.timeout_s * 1000),
        retry_options=genai_types.HttpRetryOptions(attempts=config.sdk_max_retries + 1),
    )
    return genai.Client(api_key=config.gemini_api_key.get_secret_value(), http_options=options)


@asynccontextmanager
async def sdk_boundary(secret: str) -> AsyncIterator[None]:
    try:
        yield
    except MediaWorkerError:
        raise
    except genai_errors.APIError as exc:
        body = {"error": {"message": exc.message or exc.status or ""}}
        headers = dict(_retry_headers(exc))
        error = http_errors.from_status(
            PROVIDER, int(exc.code), body, headers=headers, secrets=[secret]
        )
        raise error from None
    except Exception as exc:
        mapped = http_errors.from_transport(PROVIDER, exc)
        if mapped is None and "Connection" in type(exc).__name__:
            mapped = NetworkError(f"cannot reach {PROVIDER}: {type(exc).__name__}")
        if mapped is None:
            raise
        raise mapped from None


@dataclass
class GeminiImageEnhancer:
    client: Any  # google.genai.Client
    model: str
    prompt: str
    secret: str = field(repr=False)  # masked in error messages; never in a repr or a log
    provider: str = PROVIDER
    remote: bool = True

    async def enhance(self, source: Path) -> ImageResult:
        data = await asyncio.to_thread(source.read_bytes)
        image = genai_types.Part.from_bytes(data=data, mime_type="image/jpeg")
        async with sdk_boundary(self.secret):
            response = await self.client.aio.models.generate_content(
                model=self.model, contents=[image, self.prompt]
            )
        usage = _usage(response)
        candidate = (response.candidates or [None])[0]
        reason = str(getattr(candidate, "finish_reason", "") or "").split(".")[-1]
        blocked = getattr(response.prompt_feedback, "block_reason", None)
        if blocked or reason in REFUSALS:
            raise http_errors.refused(PROVIDER, f"blocked ({blocked or reason})", usage)
        parts = candidate.content.parts if candidate and candidate.content else None
        found = next((p.inline_data for p in parts or [] if p.inline_data is not None), None)
        if found is None or not found.data:
            raise http_errors.refused(PROVIDER, "the model answered without an image", usage)
        return ImageResult(found.data, found.mime_type or "image/png", usage)


def _usage(response: Any) -> Usage:
    meta = response.usage_metadata
    if meta is None:
        return Usage(images=1)
    image_tokens = sum(
        d.token_count or 0
        for d in meta.candidates_tokens_details or []
        if str(d.modality).endswith("IMAGE")
    )
    return Usage(
        input_tokens=meta.prompt_token_count,
        output_tokens=meta.candidates_token_count,
        images=1,
        priced={"output_image_tokens": image_tokens} if image_tokens else {},
        raw=meta.model_dump(mode="json", exclude_none=True),
    )


def _retry_headers(exc: Any) -> Mapping[str, str]:
    """Retry-After from the response headers, or Google's RetryInfo `retryDelay` ("7s")."""
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    if "retry-after" in {k.lower() for k in headers}:
        return dict(headers)
    details = (exc.details or {}).get("error", {}).get("details", [])
    for detail in details if isinstance(details, list) else []:
        match = _DELAY.match(str(detail.get("retryDelay", "")))
        if match:
            return {"retry-after": match.group(1)}
    return {}
