"""What the vision adapters (Anthropic, OpenAI) share: the request's parts, the reply's check.

Each adapter sends the downscaled JPEG with `analysis.prompt()` and the strict JSON schema of
`RoomAnalysis` in its SDK's own form (Anthropic JSON outputs, OpenAI Structured Outputs), then
hands the reply to `read_reply`: a refusal is BAD_INPUT (not retried); a reply cut at
max_tokens, not JSON, or outside the schema is an `InvalidReplyError` that keeps the reply.
"""

from __future__ import annotations

import base64

from mediaworker.photos.analysis import InvalidReply, RoomAnalysis, parse_reply
from mediaworker.providers import http_errors
from mediaworker.providers.base import Usage

IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
# A room of 40 kinds of items is about 2,000 output tokens; the answer is cut beyond this.
MAX_TOKENS = 4096


def check_image(provider: str, image: bytes, content_type: str) -> str:
    """The image as base64, or BAD_INPUT before any call when it is not an image it reads."""
    if content_type not in IMAGE_TYPES:
        raise http_errors.refused(provider, f"{content_type[:40]} is not an image it reads")
    if not image:
        raise http_errors.refused(provider, "the image is empty")
    return base64.b64encode(image).decode()


def read_reply(
    provider: str, text: str, usage: Usage, *, room_type: str | None, cut: bool
) -> RoomAnalysis:
    if cut:
        raise http_errors.invalid_reply(provider, "the reply was cut at max_tokens", text, usage)
    try:
        return parse_reply(text, room_type)
    except InvalidReply as exc:
        raise http_errors.invalid_reply(provider, exc.reason, text, usage) from None
