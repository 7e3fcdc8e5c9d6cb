"""Request and response models of holds."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.flags.schemas import SLUG, AccountOut, AccountRef, Strict
from app.kit.schemas import UtcDatetime
from app.vocabulary import HoldStatus

MAX_HOLD_DAYS = 90


class HoldCreate(Strict):
    """A hold on an account: while active, other agencies' new flags on it are held."""

    platform: str = Field(pattern=SLUG)
    account: AccountRef
    reason: str = Field(min_length=1, max_length=2000)
    expires_at: UtcDatetime = Field(description=f"At most {MAX_HOLD_DAYS} days ahead")


class HoldOut(BaseModel):
    """A hold, as only its own agency sees it."""

    id: uuid.UUID
    status: HoldStatus
    platform: str
    account: AccountOut
    country: str
    reason: str
    created_at: datetime
    expires_at: datetime
    released_at: datetime | None


class HoldPage(BaseModel):
    """A page of holds."""

    items: list[HoldOut]
    next_cursor: str | None
