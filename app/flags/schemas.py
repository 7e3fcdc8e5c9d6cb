"""Request and response models of flags, with the normalisation agencies can rely on."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, computed_field, field_validator, model_validator

from app.errors import Problem
from app.flags.statement_schemas import StatementOut
from app.identity.canonical import normalise_url
from app.kit.addresses import is_private_host
from app.kit.schemas import Omitted, StrictModel, UtcDatetime
from app.vocabulary import Category, FlagKind, FlagStatus, OutcomeAction, Priority

SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
MAX_EVIDENCE = 50

Strict = StrictModel


class AccountRef(Strict):
    """The account on the platform: its stable id, its handle and/or its URL.

    Checked and reduced to canonical keys with the platform's identity profile when the
    platform is known (app/identity/canonical.py), not here.
    """

    id: str | None = Field(default=None, min_length=1, max_length=128)
    handle: str | None = Field(default=None, min_length=1, max_length=101)
    url: str | None = Field(default=None, min_length=1, max_length=2048)

    @model_validator(mode="after")
    def _at_least_one(self) -> AccountRef:
        if self.id is None and self.handle is None and self.url is None:
            raise ValueError("give at least one of id, handle or url")
        return self


class PlatformAccountIn(Strict):
    """What the platform states about the flag's account: its stable id and/or its current
    handle. FlagBridge binds them to the account, or merges accounts the id joins."""

    id: str | None = Field(default=None, min_length=1, max_length=128)
    handle: str | None = Field(default=None, min_length=1, max_length=101)

    @model_validator(mode="after")
    def _at_least_one(self) -> PlatformAccountIn:
        if self.id is None and self.handle is None:
            raise ValueError("give at least one of id or handle")
        return self


class Evidence(Strict):
    """One piece of evidence: where it is, and optionally its hash and capture time."""

    url: str = Field(min_length=1, max_length=2048)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    captured_at: UtcDatetime | None = None
    description: str | None = Field(default=None, max_length=2000)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        return normalise_url(v)

    @field_validator("sha256")
    @classmethod
    def _lower(cls, v: str | None) -> str | None:
        return v.lower() if v else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def private_host(self) -> bool:
        """The URL's host is private, loopback, link-local or a local name: stored with the
        item so the platform knows it may not open it (FlagBridge never fetches it)."""
        return is_private_host(urlsplit(self.url).hostname)


class FlagCreate(Strict):
    """A flag as an agency submits it."""

    platform: str = Field(pattern=SLUG, description="Slug of a registered platform")
    account: AccountRef
    kind: FlagKind = "referral"
    category: Category
    priority: Priority = "standard"
    legal_basis: str = Field(min_length=1, max_length=2000)
    summary: str = Field(min_length=1, max_length=4000)
    evidence: list[Evidence] = Field(min_length=1, max_length=MAX_EVIDENCE)
    external_ref: str | None = Field(default=None, min_length=1, max_length=128)


class FlagBatchIn(Strict):
    """Up to 1000 flags; each is validated and stored on its own."""

    flags: list[dict[str, Any]] = Field(min_length=1, max_length=1000)


class AccountOut(BaseModel):
    """The account as the flag's (or hold's) own agency named it, in canonical form: never
    what another agency or the platform said."""

    id: str | None
    handle: str | None
    url: str | None


class EvidenceOut(BaseModel):
    """A piece of evidence as stored (normalised URL, lower-case hash)."""

    # The optional members are null when the agency left them out; evidence loaded in
    # bulk (the demo history) may omit them altogether.
    url: str
    sha256: str | None = None
    captured_at: datetime | None = None
    description: str | None = None
    private_host: bool | None = Field(
        default=None,
        description="The URL's host is a private, loopback or link-local address or a "
        "local-only name (localhost, .local, .internal): the platform may not be able to "
        "open it. FlagBridge never fetches evidence. Absent on evidence loaded in bulk.",
    )


class AgencyOut(BaseModel):
    """The submitting agency."""

    id: uuid.UUID
    name: str


class OutcomeOut(BaseModel):
    """What the platform did."""

    action: OutcomeAction
    note: str | None
    actioned_at: datetime


class DecisionOut(OutcomeOut):
    """One of the platform's decisions in a contest round, and when it was recorded."""

    decided_at: datetime


class ContestOut(BaseModel):
    """The agency's contest of the first outcome and the platform's reconsidered outcome."""

    contested_at: datetime
    reason: str | None = Field(description="The agency's reason (removed by retention)")
    evidence: list[EvidenceOut] = Field(description="The new evidence sent with the contest")
    first_outcome: DecisionOut
    reconsidered_outcome: DecisionOut | None = Field(
        description="The platform's final answer; null while the flag is in reconsideration"
    )
    overturned: bool | None = Field(
        description="Whether the final answer overturned the first (one acted on the account "
        "or its content, the other did not); null until it is given"
    )


class Corroborations(BaseModel):
    """How many agencies and countries have live flags on the same account."""

    agencies: int
    countries: int


class FlagOut(BaseModel):
    """A flag as every route shows it."""

    id: uuid.UUID
    status: FlagStatus
    kind: FlagKind
    category: Category
    priority: Priority
    platform: str
    account: AccountOut
    country: str
    agency: AgencyOut
    legal_basis: str
    summary: str
    evidence: list[EvidenceOut] = Field(
        description="As submitted, then what the agency added answering questions"
    )
    external_ref: str | None
    submitted_at: datetime
    due_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    closed_at: datetime | None
    withdrawn_at: datetime | None
    withdraw_reason: str | None
    outcome: OutcomeOut | None = Field(
        description="The platform's (first) decision; a reconsidered one is in "
        "`contest.reconsidered_outcome`"
    )
    corroborations: Corroborations
    statement: StatementOut | None = Field(
        description="The platform's statement of reasons for its latest decision, if it gave one "
        "(`decision` 2: the reconsidered outcome's)"
    )
    contest: ContestOut | None = Field(
        description="The agency's contest and the platform's reconsidered outcome; "
        "null if the outcome was never contested"
    )


class StatementDocument(BaseModel):
    """A statement of reasons as an agency files it: the flag it concerns and the
    platform's reasons (GET /v1/flags/{id}/statement)."""

    flag_id: uuid.UUID
    agency: AgencyOut
    platform: str
    country: str
    account: AccountOut = Field(description="As the flag shows it (its agency's identifiers)")
    kind: FlagKind
    category: Category
    submitted_at: datetime
    closed_at: datetime | None
    outcome: OutcomeOut
    statement: StatementOut


class FlagEventOut(BaseModel):
    """One step of a flag's history."""

    type: str = Field(
        description="submitted, held, released, delivered, acknowledged, info_requested, "
        "info_provided, outcome, contested or withdrawn"
    )
    at: datetime
    data: dict[str, Any] = Field(description="Details of the step, e.g. the question asked")


class FlagDetail(FlagOut):
    """A flag with its history."""

    events: list[FlagEventOut]


class FlagPage(BaseModel):
    """A page of flags."""

    items: list[FlagOut]
    next_cursor: str | None


class BatchItemResult(BaseModel):
    """The result of one item of a batch."""

    # Exactly one of `flag` and `error` is present; the other is left out, never null.
    index: int
    status: int = Field(description="201 stored, or the status of its problem")
    flag: FlagOut | Omitted = None
    error: Problem | Omitted = None


class BatchOut(BaseModel):
    """Per-item results, in request order."""

    results: list[BatchItemResult]


class WithdrawIn(Strict):
    """Why the agency withdraws its flag."""

    reason: str = Field(min_length=1, max_length=2000)


class InfoIn(Strict):
    """The agency's answer to a platform's question."""

    note: str = Field(min_length=1, max_length=4000)
    evidence: list[Evidence] | None = Field(default=None, max_length=MAX_EVIDENCE)


class ContestIn(Strict):
    """Why the agency disputes the outcome, and the new evidence it brings."""

    reason: str = Field(min_length=1, max_length=4000)
    evidence: list[Evidence] = Field(min_length=1, max_length=MAX_EVIDENCE)


@dataclass(frozen=True)
class FlagFilter:
    """What GET /v1/flags narrows the caller's flags to (every field optional)."""

    status: FlagStatus | None = None
    platform: str | None = None
    category: Category | None = None
    submitted_after: datetime | None = None
    submitted_before: datetime | None = None
