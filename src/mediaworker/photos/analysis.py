"""What a photo analysis returns: one pydantic model, asked of the model and read by apps.

`RoomAnalysis` is sent to the providers as a strict JSON schema (`json_schema()`) and every
reply is validated against it again here (`parse_reply`): a reply that is not JSON, breaks the
schema, names a category outside the volume table or a number out of range is an
`InvalidReply`, whatever the provider promised.

The versions are recorded with every analysis: `SCHEMA_VERSION` names this model together with
the volume table (its categories are the schema's enum), `PROMPT_VERSION` the instructions.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema
from pydantic.functional_validators import AfterValidator

from mediaworker.photos import volumes

PROMPT_VERSION = "2026-12-01.1"
SCHEMA_VERSION = f"room-analysis-1+table-{volumes.TABLE_VERSION}"
MAX_ITEMS = 200


class RoomType(StrEnum):
    LIVING_ROOM = "living_room"
    DINING_ROOM = "dining_room"
    KITCHEN = "kitchen"
    BEDROOM = "bedroom"
    BATHROOM = "bathroom"
    OFFICE = "office"
    HALLWAY = "hallway"
    LAUNDRY = "laundry"
    GARAGE = "garage"
    BASEMENT = "basement"
    ATTIC = "attic"
    BALCONY_TERRACE = "balcony_terrace"
    GARDEN = "garden"
    STORAGE = "storage"
    OTHER = "other"


def _known_category(value: str) -> str:
    if value not in volumes.table():
        raise ValueError(f"{value[:40]!r} is not a category of the volume table")
    return value


Category = Annotated[
    str,
    AfterValidator(_known_category),
    WithJsonSchema({"type": "string", "enum": volumes.categories()}),
]
Score = Annotated[float, Field(ge=0, le=1)]


class Item(BaseModel):
    """One kind of thing a mover carries, as seen in the photo."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=80, description="what it is, in a few words")
    category: Category = Field(description="the closest category of the volume table")
    quantity: int = Field(ge=1, le=999, description="how many of them the photo shows")
    dismountable: bool = Field(description="a mover would take it apart to carry it")
    volume_m3: float | None = Field(
        ge=0, le=50, description="your estimate of one unit's volume in m3, or null"
    )
    confidence: Score


class RoomAnalysis(BaseModel):
    """The room a photo shows and what in it must be moved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    room_type: RoomType
    room_label: str | None = Field(
        max_length=80, description="free text when other, or more precise (kids' bedroom)"
    )
    room_confidence: Score
    items: list[Item] = Field(max_length=MAX_ITEMS)


class InvalidReply(ValueError):
    """The reply is not a valid `RoomAnalysis`; `reason` says why, in one short line."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason[:160]


def json_schema() -> dict[str, Any]:
    """The JSON schema of `RoomAnalysis` (every field required, no extra fields)."""
    return RoomAnalysis.model_json_schema()


def parse_reply(text: str, room_type: str | None = None) -> RoomAnalysis:
    """The validated analysis in `text`; a `room_type` given by the app is kept as a fact."""
    try:
        found = json.loads(text)
    except ValueError:
        raise InvalidReply("the reply is not valid JSON") from None
    try:
        analysis = RoomAnalysis.model_validate(found)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "reply"
        raise InvalidReply(f"the reply breaks the schema at {where}: {first['msg']}") from None
    if room_type is not None:
        analysis = analysis.model_copy(update={"room_type": RoomType(room_type)})
    return analysis


def prompt(room_type: str | None) -> str:
    """The instructions sent with the photo."""
    rows = volumes.table().values()
    vocabulary = "\n".join(f"- {r.category}: {r.label}" for r in rows)
    fact = (
        f"The customer says this room is a {room_type.replace('_', ' ')}: use room_type "
        f'"{room_type}".\n'
        if room_type
        else ""
    )
    return (
        "You help a removal company estimate a move. The photo shows one room of a home.\n"
        f"{fact}"
        "List every piece of furniture, appliance and other item a mover would have to carry "
        "out of this room. Rules:\n"
        "- One entry per kind of item; quantity is how many of them you can see.\n"
        "- category is the closest entry of the list below; use other only when none fits, "
        "and then give volume_m3, your estimate for one unit.\n"
        "- Fitted things are not moved: built-in cabinets, sinks, toilets, bathtubs, "
        "radiators, ceiling lights.\n"
        "- Moving boxes and crates count only when you can see them; never add boxes for "
        "things still to pack.\n"
        "- Do not guess what you cannot see. confidence is how sure you are (0 to 1).\n"
        "- room_label: a more precise name of the room (kids' bedroom), or null.\n"
        f"Categories:\n{vocabulary}"
    )
