"""Response models of the feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from app.flags.schemas import FlagOut
from app.holds.schemas import HoldOut
from app.kit.schemas import Omitted


class FeedItem(BaseModel):
    """One event: what happened, when, and the flag (or hold) as it is now."""

    # `flag`, `hold` and `data` are left out, never null, when the event has none.
    event_id: str = Field(description="Opaque, unique within your feed")
    type: str = Field(
        description="Platforms get flag.created, flag.withdrawn, flag.corroborated, "
        "flag.info_provided and flag.contested; agencies get flag.acknowledged, "
        "flag.info_requested, flag.closed, flag.held, flag.released and hold.conflict"
    )
    occurred_at: datetime
    flag: FlagOut | Omitted = Field(
        default=None, description="The flag as it is now, for flag events"
    )
    hold: HoldOut | Omitted = Field(
        default=None, description="The hold as it is now, for hold events"
    )
    data: dict[str, Any] | Omitted = Field(
        default=None,
        description="Details of the event, e.g. `flagged_by_country` of a hold.conflict",
    )


class FeedPage(BaseModel):
    """Events after the cursor; keep next_cursor (it is never null) for the next read."""

    items: list[FeedItem]
    next_cursor: str
