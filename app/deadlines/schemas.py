"""Request and response models of the deadline-policy API."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.kit.schemas import StrictModel
from app.vocabulary import FlagKind, Priority


class DeadlinePolicy(BaseModel):
    """Seconds a platform has for flags of this country (or `*`, the default), kind, priority."""

    country: str
    kind: FlagKind
    priority: Priority
    seconds: int


class DeadlinePolicyIn(StrictModel):
    """A new deadline in seconds (1 minute to 1 year)."""

    seconds: int = Field(ge=60, le=31_536_000)


class DeadlinePolicyList(BaseModel):
    """Every policy row, defaults (`*`) first."""

    items: list[DeadlinePolicy]
