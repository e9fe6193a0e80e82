"""Loopback stand-ins for the OpenAI, Anthropic and Gemini HTTP APIs, with faults on demand.

The real SDKs talk to these through OPENAI_BASE_URL / ANTHROPIC_BASE_URL / GEMINI_BASE_URL, so
the tests exercise the SDKs' own request building, parsing and exceptions (respx cannot patch
the httpx2 clients they use).

    async with AiStandIn() as api:
        api.fail("images.generate", "429")          # the next call gets a 429 with Retry-After
        ... api.openai_url, api.anthropic_url, api.gemini_url ...
        assert len(api.calls("images.generate")) == 2

Faults: 429 (Retry-After: `retry_after`), 400, 401 (the message echoes the key, as a careless
server might), 403, 500, 503, 529 (Anthropic's overload), slow (answers after `slow_s`),
reset (TCP reset, no answer), malformed (200 with broken JSON), refusal (400 moderation for
OpenAI, stop_reason "refusal" for Anthropic, a blocked prompt for Gemini).

Vision (Anthropic "messages", OpenAI "chat.completions"): a valid answer is `analysis` (a room
analysis) as JSON; faults: invalid_json (200, not JSON), schema (200, JSON outside the schema),
refusal (stop_reason "refusal" / `message.refusal`), max_tokens (the reply cut: stop_reason
"max_tokens" / finish_reason "length"), and the HTTP ones (429, 529, ...).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import socket
import struct
import subprocess
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

import pyvips
from aiohttp import web

from mediaworker.config import ProvidersConfig, Settings

ROUTES = (
    "chat.completions",
    "images.generate",
    "images.edit",
    "audio.transcribe",
    "audio.speech",
    "messages",
    "gemini.generate",
)
TRANSCRIPT = "And so, my fellow Americans, ask not what your country can do for you."
ROOM_ANALYSIS: dict[str, Any] = {
    "room_type": "living_room",
    "room_label": None,
    "room_confidence": 0.93,
    "items": [
        {
            "name": "grey three-seat sofa",
            "category": "sofa_3_seat",
            "quantity": 1,
            "dismountable": False,
            "volume_m3": 1.8,
            "confidence": 0.95,
        },
        {
            "name": "armchair",
            "category": "armchair",
            "quantity": 2,
            "dismountable": False,
            "volume_m3": 0.7,
            "confidence": 0.9,
        },
        {
            "name": "aquarium",
            "category": "other",
            "quantity": 1,
            "dismountable": False,
            "volume_m3": 0.25,
            "confidence": 0.7,
        },
    ],
}
BROKEN_ANALYSIS = {**ROOM_ANALYSIS, "items": [{"name": "ufo", "category": "spaceship"}]}
VISION_FAULTS = ("invalid_json", "schema", "max_tokens")


@dataclass
class Call:
    route: str
    at: float  # time.monotonic() when the request arrived
    headers: dict[str, str]
    body: dict[str, Any]
    fault: str | None


@dataclass
class AiStandIn:
    retry_after: str = "7"
    slow_s: float = 3.0
    transcript: str = TRANSCRIPT
    audio_seconds: float = 11.0
    analysis: dict[str, Any] = field(default_factory=lambda: dict(ROOM_ANALYSIS))
    requests: list[Call] = field(default_factory=list)
    _faults: dict[str, deque[str]] = field(default_factory=lambda: defaultdict(deque))
    _always: dict[str, str] = field(default_factory=dict)
    _nth: dict[str, dict[int, str]] = field(default_factory=lambda: defaultdict(dict))
    _seen: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _runner: web.AppRunner | None = None
    port: int = 0

    # --- control -----------------------------------------------------------------------

    def fail(self, route: str, fault: str, *, times: int = 1) -> None:
        assert route in ROUTES, route
        self._faults[route].extend([fault] * times)

    def fail_nth(self, route: str, n: int, fault: str) -> None:
        """The `n`-th call of `route` (1-based, counting from now on) gets `fault`."""
        self._nth[route][self._seen[route] + n] = fault

    def fail_always(self, route: str, fault: str | None) -> None:
        if fault is None:
            self._always.pop(route, None)
        else:
            self._always[route] = fault

    def calls(self, route: str | None = None) -> list[Call]:
        return [c for c in self.requests if route is None or c.route == route]

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.base}/openai/v1"

    @property
    def anthropic_url(self) -> str:
        return f"{self.base}/anthropic"

    @property
    def gemini_url(self) -> str:
        return f"{self.base}/gemini/"

    # --- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> AiStandIn:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/openai/v1/chat/completions", self._chat)
        app.router.add_post("/openai/v1/images/generations", self._images_generate)
        app.router.add_post("/openai/v1/images/edits", self._images_edit)
        app.router.add_post("/openai/v1/audio/transcriptions", self._transcribe)
        app.router.add_post("/openai/v1/audio/speech", self._speech)
        app.router.add_post("/anthropic/v1/messages", self._messages)
        app.router.add_post("/gemini/{version}/models/{model}", self._gemini)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- handlers ----------------------------------------------------------------------

    async def _images_generate(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        return await self._answer(request, "images.generate", body, self._image_json(body))

    async def _images_edit(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        body = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = next(v for k, v in form.items() if k.startswith("image"))
        source = pyvips.Image.new_from_buffer(upload.file.read(), "")  # type: ignore[union-attr]
        body["image_size"] = f"{source.width}x{source.height}"
        edited = (255 - source).cast("uchar")  # a visible change: the negative
        answer = {"created": int(time.time()), "data": [{"b64_json": _b64(edited)}]}
        answer["usage"] = _image_usage(input_image_tokens=323)
        return await self._answer(request, "images.edit", body, answer)

    async def _transcribe(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        body = {k: v for k, v in form.items() if isinstance(v, str)}
        upload = form["file"]
        body["file_bytes"] = len(upload.file.read())  # type: ignore[union-attr]
        body["file_name"] = upload.filename  # type: ignore[union-attr]
        answer = {
            "text": self.transcript,
            "languages": [{"code": "en"}],
            "usage": {"type": "duration", "seconds": self.audio_seconds},
        }
        return await self._answer(request, "audio.transcribe", body, answer)

    async def _speech(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        fault = self._next_fault("audio.speech")
        self._record(request, "audio.speech", body, fault)
        if fault is not None:
            return await self._fault(request, "audio.speech", fault)
        audio = await asyncio.to_thread(_tone_mp3, 1.0)
        return web.Response(body=audio, content_type="audio/mpeg")

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        fault = self._next_fault("messages")
        self._record(request, "messages", body, fault)
        text, stop = _vision_reply(self.analysis, fault)
        answer = {
            "id": "msg_standin",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "claude") + "-20261101",
            "content": [{"type": "text", "text": text}],
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {"input_tokens": 1234, "output_tokens": 56},
        }
        if fault == "refusal":
            answer = {**answer, "stop_reason": "refusal", "content": []}
        if fault is None or fault in (*VISION_FAULTS, "refusal"):
            return web.json_response(answer)
        return await self._fault_or_late(request, "messages", fault, answer)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        fault = self._next_fault("chat.completions")
        self._record(request, "chat.completions", body, fault)
        text, stop = _vision_reply(self.analysis, fault)
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None}
        if fault == "refusal":
            message = {**message, "content": None, "refusal": "I can't help with that."}
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": "length" if stop == "max_tokens" else "stop",
        }
        answer = {
            "id": "chatcmpl-standin",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "gpt") + "-2026-11-01",
            "choices": [choice],
            "usage": {"prompt_tokens": 1500, "completion_tokens": 80, "total_tokens": 1580},
        }
        if fault is None or fault in (*VISION_FAULTS, "refusal"):
            return web.json_response(answer)
        return await self._fault_or_late(request, "chat.completions", fault, answer)

    async def _fault_or_late(
        self, request: web.Request, route: str, fault: str, answer: dict[str, Any]
    ) -> web.StreamResponse:
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
            return web.json_response(answer)
        return await self._fault(request, route, fault)

    async def _gemini(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        parts = body["contents"][-1]["parts"]
        image = next(p for p in parts if "inlineData" in p or "inline_data" in p)
        inline = image.get("inlineData") or image["inline_data"]
        data = inline["data"]  # the SDK sends base64url without padding
        source = pyvips.Image.new_from_buffer(
            base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)), ""
        )
        edited = (source * 1.1).cast("uchar")
        answer = {
            "candidates": [
                {
                    "content": {
                        "role": "model",
                        "parts": [{"inlineData": {"mimeType": "image/png", "data": _b64(edited)}}],
                    },
                    "finishReason": "STOP",
                }
            ],
            "usageMetadata": {
                "promptTokenCount": 1290,
                "candidatesTokenCount": 1300,
                "totalTokenCount": 2590,
            },
            "modelVersion": request.match_info["model"].split(":")[0],
        }
        return await self._answer(request, "gemini.generate", {"parts": len(parts)}, answer)

    # --- helpers -----------------------------------------------------------------------

    def _image_json(self, body: dict[str, Any]) -> dict[str, Any]:
        size = body.get("size") or "1024x1024"
        width, height = (int(n) for n in (size if size != "auto" else "1024x1024").split("x"))
        image = _gradient(width, height)
        return {
            "created": int(time.time()),
            "data": [{"b64_json": _b64(image)}],
            "output_format": "png",
            "size": f"{width}x{height}",
            "usage": _image_usage(),
        }

    async def _answer(
        self, request: web.Request, route: str, body: dict[str, Any], answer: dict[str, Any]
    ) -> web.StreamResponse:
        fault = self._next_fault(route)
        self._record(request, route, body, fault)
        if fault is None:
            return web.json_response(answer)
        if fault == "refusal" and route == "messages":
            answer = {**answer, "stop_reason": "refusal", "content": []}
            return web.json_response(answer)
        if fault == "refusal" and route == "gemini.generate":
            refusal = {"content": {"role": "model", "parts": []}, "finishReason": "IMAGE_SAFETY"}
            return web.json_response({**answer, "candidates": [refusal]})
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
            return web.json_response(answer)
        return await self._fault(request, route, fault)

    async def _fault(self, request: web.Request, route: str, fault: str) -> web.StreamResponse:
        if fault == "slow":
            await asyncio.sleep(self.slow_s)
            return web.Response(body=b"late", content_type="audio/mpeg")
        if fault == "reset":
            _reset(request)
            raise asyncio.CancelledError  # aiohttp drops the connection without an answer
        if fault == "malformed":
            return web.Response(text='{"data": [{"b64_json": ', content_type="application/json")
        status = {"refusal": 400}.get(fault) or int(fault)
        headers = {"retry-after": self.retry_after} if status == 429 else {}
        key = request.headers.get("authorization", "") or request.headers.get("x-api-key", "")
        error = _error_body(route, status, fault, key)
        return web.json_response(error, status=status, headers=headers)

    def _next_fault(self, route: str) -> str | None:
        self._seen[route] += 1
        if self._seen[route] in self._nth[route]:
            return self._nth[route].pop(self._seen[route])
        if self._faults[route]:
            return self._faults[route].popleft()
        return self._always.get(route)

    def _record(
        self, request: web.Request, route: str, body: dict[str, Any], fault: str | None
    ) -> None:
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.requests.append(Call(route, time.monotonic(), headers, body, fault))


def _vision_reply(analysis: dict[str, Any], fault: str | None) -> tuple[str, str]:
    """The reply text and the stop reason for a vision request under `fault`."""
    text = json.dumps(analysis)
    if fault == "invalid_json":
        return "Here is the room: a sofa and two armchairs.", "end_turn"
    if fault == "schema":
        return json.dumps(BROKEN_ANALYSIS), "end_turn"
    if fault == "max_tokens":
        return text[: len(text) // 2], "max_tokens"
    return text, "end_turn"


def _error_body(route: str, status: int, fault: str, key: str) -> dict[str, Any]:
    if route == "messages":  # Anthropic's error shape
        kinds = {
            400: "invalid_request_error",
            401: "authentication_error",
            403: "permission_error",
            429: "rate_limit_error",
            529: "overloaded_error",
        }
        message = f"invalid x-api-key {key}" if status == 401 else f"stand-in {fault}"
        return {
            "type": "error",
            "error": {"type": kinds.get(status, "api_error"), "message": message},
        }
    if route == "gemini.generate":
        states = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 429: "RESOURCE_EXHAUSTED"}
        return {
            "error": {
                "code": status,
                "message": f"stand-in {fault}",
                "status": states.get(status, "UNAVAILABLE"),
            }
        }
    if fault == "refusal":
        message = "Your request was rejected as a result of our safety system."
        return {
            "error": {
                "message": message,
                "type": "image_generation_user_error",
                "code": "moderation_blocked",
            }
        }
    message = f"Incorrect API key provided: {key}." if status == 401 else f"stand-in {fault}"
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


def _reset(request: web.Request) -> None:
    transport = request.transport
    assert transport is not None
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def _gradient(width: int, height: int) -> pyvips.Image:
    xyz = pyvips.Image.xyz(width, height)
    image = (xyz[0] / width * 255).bandjoin([xyz[1] / height * 255, xyz[0] * 0 + 128])
    return image.cast("uchar").copy(interpretation="srgb")


def _b64(image: pyvips.Image) -> str:
    return base64.b64encode(image.pngsave_buffer(compression=1)).decode()


def _image_usage(*, input_image_tokens: int = 0) -> dict[str, Any]:
    return {
        "input_tokens": 50 + input_image_tokens,
        "input_tokens_details": {"text_tokens": 50, "image_tokens": input_image_tokens},
        "output_tokens": 4160,
        "output_tokens_details": {"text_tokens": 0, "image_tokens": 4160},
        "total_tokens": 4210 + input_image_tokens,
    }


_TONES: dict[float, bytes] = {}


def _tone_mp3(seconds: float) -> bytes:
    """A real MP3 of `seconds` (a 440 Hz tone), made once by ffmpeg."""
    if seconds not in _TONES:
        argv = [
            "ffmpeg",
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            f"sine=frequency=440:duration={seconds}",
        ]
        argv += ["-ac", "1", "-b:a", "64k", "-f", "mp3", "pipe:1"]
        _TONES[seconds] = subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout
    return _TONES[seconds]


# --- settings for tests ----------------------------------------------------------------------

OPENAI_KEY = "sk-standin-openai-0123456789abcdefSECRET"
ANTHROPIC_KEY = "sk-ant-standin-0123456789abcdefSECRET"
GEMINI_KEY = "AIzaStandinGemini0123456789SECRET"
KEYS = (OPENAI_KEY, ANTHROPIC_KEY, GEMINI_KEY)
LOCAL_ONLY = {
    "AI_IMAGE_GENERATOR": "local",
    "AI_IMAGE_ENHANCER": "local",
    "AI_TRANSCRIBER": "local",
    "AI_SPEECH": "local",
    "AI_PHOTO_ANALYZER": "local",
}


def providers_config(api: AiStandIn | None, **env: Any) -> ProvidersConfig:
    """The stand-ins as OpenAI, Anthropic and Gemini (keys set: `auto` picks them), or, with
    `api=None`, every capability local. `env` overrides, by environment variable name."""
    values: dict[str, Any] = {"AI_PROVIDER_TIMEOUT_S": 1.0, "AI_SDK_MAX_RETRIES": 0}
    if api is None:
        values.update(LOCAL_ONLY)
    else:
        values.update(
            OPENAI_API_KEY=OPENAI_KEY,
            OPENAI_BASE_URL=api.openai_url,
            ANTHROPIC_API_KEY=ANTHROPIC_KEY,
            ANTHROPIC_BASE_URL=api.anthropic_url,
            GEMINI_API_KEY=GEMINI_KEY,
            GEMINI_BASE_URL=api.gemini_url,
            AI_IMAGE_ENHANCER="openai",
        )
    values.update(env)
    return ProvidersConfig(**values)


def ai_settings(settings: Settings, api: AiStandIn | None, **env: Any) -> Settings:
    return settings.model_copy(update={"providers": providers_config(api, **env)})
