"""Request models of platform responses."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, Field

from app.errors import Problem
from app.flags.schemas import FlagOut, PlatformAccountIn, Strict
from app.flags.statement_schemas import STATEMENT_DESCRIPTION, StatementIn
from app.kit.schemas import Omitted, UtcDatetime
from app.vocabulary import OutcomeAction


class QuestionIn(Strict):
    """What the platform needs to know to decide."""

    question: str = Field(min_length=1, max_length=4000)


ACCOUNT_DESCRIPTION = (
    "Optional: the account's stable id and/or current handle, as the platform knows them; "
    "FlagBridge binds them to the account (or merges the accounts the id joins)"
)

RECONSIDERED_DESCRIPTION = (
    "true for the final outcome of a flag in reconsideration (its agency contested the "
    "first); a flag in reconsideration takes only that, any other flag never (409)"
)


class AckIn(Strict):
    """An acknowledgement, optionally stating the account's identity."""

    account: PlatformAccountIn | None = Field(default=None, description=ACCOUNT_DESCRIPTION)


class OutcomeIn(Strict):
    """What the platform did about the flag."""

    action: OutcomeAction
    note: str | None = Field(default=None, max_length=4000)
    actioned_at: UtcDatetime | None = None
    account: PlatformAccountIn | None = Field(default=None, description=ACCOUNT_DESCRIPTION)
    statement: StatementIn | None = Field(default=None, description=STATEMENT_DESCRIPTION)
    reconsidered: bool = Field(default=False, description=RECONSIDERED_DESCRIPTION)


class OutcomeBatchItem(Strict):
    """One acknowledgement or outcome in a batch."""

    flag_id: uuid.UUID
    type: Literal["ack", "outcome"]
    action: OutcomeAction | None = None
    note: str | None = Field(default=None, max_length=4000)
    actioned_at: UtcDatetime | None = None
    account: PlatformAccountIn | None = Field(default=None, description=ACCOUNT_DESCRIPTION)
    statement: StatementIn | None = Field(default=None, description=STATEMENT_DESCRIPTION)
    reconsidered: bool = Field(default=False, description=RECONSIDERED_DESCRIPTION)


class OutcomeBatchIn(Strict):
    """Up to 1000 acknowledgements and outcomes; each succeeds or fails on its own."""

    items: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class OutcomeBatchResult(BaseModel):
    """The result of one batch item."""

    # Exactly one of `flag` and `error` is present; the other is left out, never null.
    index: int
    status: int = Field(description="200 done, or the status of its problem")
    flag: FlagOut | Omitted = None
    error: Problem | Omitted = None


class OutcomeBatchOut(BaseModel):
    """Per-item results, in request order."""

    results: list[OutcomeBatchResult]
