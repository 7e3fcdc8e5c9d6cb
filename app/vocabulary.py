"""The domain's words: every enumeration a flag, an organisation or a report is made of.

This is the one home of these lists. Request and response schemas use the `Literal`
types, the demo and the statistics read the tuples, and the database's CHECK constraints
are tested against them (tests/test_vocabulary.py), so a new category or action is added
here first and a migration then widens the CHECK.
"""

from __future__ import annotations

from typing import Literal, get_args

Category = Literal[
    "recruitment",
    "propaganda",
    "incitement",
    "instruction",
    "financing",
    "threat",
    "glorification",
    "other",
]
FlagKind = Literal["referral", "removal_order"]
Priority = Literal["standard", "urgent"]
FlagStatus = Literal[
    "held", "open", "acknowledged", "info_requested", "closed", "withdrawn", "reconsideration"
]
OutcomeAction = Literal[
    "account_suspended",
    "content_removed",
    "account_restricted",
    "no_violation",
    "account_not_found",
    "insufficient_information",
    "account_withheld_in_country",
]
OrgKind = Literal["agency", "platform", "observer", "operator"]
ReportSource = Literal["own_detection", "other"]
DecisionGround = Literal["illegal_content", "terms_of_service"]
AutomatedDecision = Literal["fully", "partially", "not_automated"]
HoldStatus = Literal["active", "released", "expired"]

CATEGORIES: tuple[str, ...] = get_args(Category)
FLAG_KINDS: tuple[str, ...] = get_args(FlagKind)
PRIORITIES: tuple[str, ...] = get_args(Priority)
FLAG_STATUSES: tuple[str, ...] = get_args(FlagStatus)
OUTCOME_ACTIONS: tuple[str, ...] = get_args(OutcomeAction)
ORG_KINDS: tuple[str, ...] = get_args(OrgKind)
REPORT_SOURCES: tuple[str, ...] = get_args(ReportSource)
DECISION_GROUNDS: tuple[str, ...] = get_args(DecisionGround)
AUTOMATED_DECISIONS: tuple[str, ...] = get_args(AutomatedDecision)

ACTIONED: tuple[str, ...] = (
    "account_suspended",
    "content_removed",
    "account_restricted",
    "account_withheld_in_country",
)
"""Outcomes in which the platform acted on the account or its content."""
NOT_ACTIONED: tuple[str, ...] = tuple(a for a in OUTCOME_ACTIONS if a not in ACTIONED)
"""Outcomes in which it did not (the ones an agency may later contest)."""
SCOPED_ACTIONS: tuple[str, ...] = ("account_withheld_in_country",)
"""Outcomes that need a statement of reasons whose territorial scope lists countries."""
