"""What a provider call cost in USD, from the usage it reported; offline.

1. Local providers cost nothing.
2. Token-priced models (gpt-image-*, claude-*, gemini-*) and the models genai-prices prices by
   other units it knows (gpt-transcribe per audio hour, tts-1 per character): genai-prices'
   maintained price table, shipped in the package and read without any network call
   (`calc_price`; its optional auto-update is never started here).
3. What genai-prices cannot price from the usage we have: UNIT_PRICES below, per second of
   audio, per character or per image, each entry with its source. Extend it by configuration
   only through code review: a price is a fact with a date, not a setting.

None when neither knows the model; the raw usage is stored in ai_metrics regardless, so the
cost can be recomputed later.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from mediaworker.providers.base import Usage

Unit = Literal["audio_second", "character", "image"]


@dataclass(frozen=True)
class UnitPrice:
    usd: Decimal  # per unit
    unit: Unit
    source: str


UNIT_PRICES: dict[tuple[str, str], UnitPrice] = {
    # The speech endpoint returns audio, no token counts; OpenAI's pricing page gives an
    # estimate per minute of audio made (text in $0.60/M tokens, audio out $12/M tokens).
    ("openai", "gpt-4o-mini-tts"): UnitPrice(
        Decimal("0.015") / 60, "audio_second", "OpenAI pricing, est. $0.015 per minute (2025-12)"
    ),
    ("openai", "tts-1"): UnitPrice(
        Decimal("15") / 1_000_000, "character", "OpenAI pricing, $15 per 1M characters"
    ),
    ("openai", "tts-1-hd"): UnitPrice(
        Decimal("30") / 1_000_000, "character", "OpenAI pricing, $30 per 1M characters"
    ),
    ("openai", "whisper-1"): UnitPrice(
        Decimal("0.006") / 60, "audio_second", "OpenAI pricing, $0.006 per minute"
    ),
}
_GENAI_PROVIDER = {"openai": "openai", "anthropic": "anthropic", "gemini": "google"}


def cost_usd(provider: str, model: str, usage: Usage) -> Decimal | None:
    """The cost of one call, or None when no price is known for the model."""
    if provider == "local":
        return Decimal(0)
    found = _from_genai_prices(provider, model, usage)
    if found is not None:
        return found
    return _from_unit_prices(provider, model, usage)


def _from_genai_prices(provider: str, model: str, usage: Usage) -> Decimal | None:
    from genai_prices import Usage as PricedUsage
    from genai_prices import calc_price

    counts: dict[str, int | float] = {**usage.priced}
    if usage.input_tokens is not None:
        counts["input_tokens"] = usage.input_tokens
    if usage.output_tokens is not None:
        counts["output_tokens"] = usage.output_tokens
    if not counts and usage.audio_seconds is not None:
        counts["audio_seconds"] = usage.audio_seconds
    if not counts and usage.characters is not None:
        counts["input_characters"] = usage.characters
    if not counts:
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a usage key it does not price: priced as zero
            found = calc_price(
                PricedUsage(**counts), model, provider_id=_GENAI_PROVIDER.get(provider, provider)
            )
    except (LookupError, ValueError):
        return None
    total = Decimal(found.total_price)
    if total == 0 and (usage.audio_seconds or usage.characters):
        return None  # matched the model but not this unit: let the table try
    return total


def _from_unit_prices(provider: str, model: str, usage: Usage) -> Decimal | None:
    price = UNIT_PRICES.get((provider, model))
    if price is None:
        return None
    amount = {
        "audio_second": usage.audio_seconds,
        "character": usage.characters,
        "image": usage.images,
    }[price.unit]
    return None if amount is None else price.usd * Decimal(str(amount))
