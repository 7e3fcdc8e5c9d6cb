"""Request and response models of hold governance: renewals and the operators' view."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.holds.schemas import MAX_HOLD_DAYS, HoldOut
from app.kit.schemas import StrictModel, UtcDatetime


class HoldRenew(StrictModel):
    """A later expiry for an active hold of yours."""

    expires_at: UtcDatetime = Field(
        description=f"Later than the current expiry and at most {MAX_HOLD_DAYS} days ahead"
    )
    reason: str | None = Field(default=None, min_length=1, max_length=2000)


class HoldRenewalOut(BaseModel):
    """One renewal of a hold."""

    renewed_at: datetime
    previous_expires_at: datetime
    expires_at: datetime
    reason: str | None


class HoldDetail(HoldOut):
    """A hold with its renewals, as only its own agency sees it."""

    renewals: list[HoldRenewalOut] = Field(description="Oldest first")


class AgencyHolds(BaseModel):
    """One agency's active holds, as operators see them: counts and times, never reasons or
    accounts."""

    agency_id: uuid.UUID
    name: str
    country: str
    active_holds: int
    soonest_expiry: datetime
    latest_expiry: datetime
    renewals: int = Field(description="Renewals of these active holds")


class AgencyHoldsPage(BaseModel):
    """A page of agencies with active holds, by name, and the limits that apply."""

    items: list[AgencyHolds]
    next_cursor: str | None
    max_active_holds: int = Field(description="Active holds an agency may have at once")
    max_hold_renewals: int = Field(description="Times one hold may be renewed")
