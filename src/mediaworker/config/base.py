"""What every config section is built from: the section base class, `env()` for the variable
names, and the value types the environment spells in short forms ("800x600", "10/60", "A,B").
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Section(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", case_sensitive=False, frozen=True)


class RateLimit(BaseModel):
    """At most `max` calls in any `duration_s` window; "10/60" in the environment."""

    model_config = {"frozen": True}
    max: int = Field(ge=1)
    duration_s: float = Field(gt=0)


EnvRateLimit = Annotated[RateLimit, NoDecode]
EnvList = Annotated[tuple[str, ...], NoDecode]


def parse_rate_limit(value: Any) -> Any:
    if isinstance(value, str):
        count, _, seconds = value.partition("/")
        return {"max": int(count), "duration_s": float(seconds or 60)}
    return value


def parse_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip().upper() for part in value.split(",") if part.strip())
    return value


class Size(BaseModel):
    model_config = {"frozen": True}
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)


EnvSize = Annotated[Size, NoDecode]  # "800x600" in the environment, not JSON


def parse_size(value: Any) -> Any:
    if isinstance(value, str):
        w, _, h = value.lower().partition("x")
        return {"width": int(w), "height": int(h)}
    return value


HexColour = Annotated[str, Field(pattern=r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")]

EnvSecrets = Annotated[tuple[SecretStr, ...], NoDecode]


def parse_secrets(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


def parse_targets(value: Any) -> Any:
    """`generate_thumbnails=https://a/hook,transcribe_audio=https://b/hook` -> a dict."""
    if isinstance(value, str):
        pairs = (part.partition("=") for part in value.split(",") if part.strip())
        return {name.strip(): url.strip() for name, _, url in pairs}
    return value


EnvTargets = Annotated[dict[str, str], NoDecode]


def redact_url(url: str) -> str:
    """`postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))
