"""The per-organisation rate limits an operator sets, and how they are shown."""

from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import BaseModel, Field

from app.kit.schemas import StrictModel

PerMinute = Annotated[int, Field(ge=1, le=1_000_000)]
Waiters = Annotated[int, Field(ge=1, le=1000)]


class RateLimitsUpdate(StrictModel):
    """An organisation's budgets per client; null (or absent) means the service default."""

    writes_per_minute: PerMinute | None = Field(
        default=None, description="POST, PUT, PATCH and DELETE requests per client per minute"
    )
    reads_per_minute: PerMinute | None = Field(
        default=None, description="GET requests per client per minute"
    )
    long_poll_waiters: Waiters | None = Field(
        default=None, description="Feed long-polls one client may have waiting at once"
    )


class RateLimits(BaseModel):
    """The budgets an organisation's clients get, each an override or the default."""

    writes_per_minute: int
    reads_per_minute: int
    long_poll_waiters: int


class RateLimitsOut(BaseModel):
    """An organisation's rate limits: what applies, and which of them the operator set."""

    organization_id: uuid.UUID
    effective: RateLimits
    overrides: RateLimitsUpdate = Field(description="What the operator set; null is the default")
