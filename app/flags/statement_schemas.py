"""Statements of reasons on outcomes: the request and response shapes, and the rule that
ties a statement to its outcome.

The shape follows the DSA Transparency Database's statement of reasons (its API fields in
brackets), in snake_case and without its upper-case enumeration prefixes:

- `ground` (`decision_ground`): `illegal_content` (DECISION_GROUND_ILLEGAL_CONTENT) or
  `terms_of_service` (DECISION_GROUND_INCOMPATIBLE_CONTENT);
- `legal_provision` (`illegal_content_legal_ground`): the law cited, for illegal content;
- `terms_clause` (`incompatible_content_ground`): the clause, for terms of service;
- `explanation` (`illegal_content_explanation` / `incompatible_content_explanation`);
- `automated_detection` (`automated_detection`, Yes/No);
- `automated_decision` (`automated_decision`): `fully`, `partially`, `not_automated`
  (AUTOMATED_DECISION_FULLY, _PARTIALLY, _NOT_AUTOMATED);
- `territorial_scope` (`territorial_scope`, ISO 3166-1 codes): `{"type": "global"}` or
  `{"type": "countries", "countries": [...]}`, codes upper-cased, de-duplicated, sorted.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from app.errors import field_error
from app.kit.countries import ISO_3166_ALPHA2
from app.kit.schemas import StrictModel
from app.vocabulary import SCOPED_ACTIONS, AutomatedDecision, DecisionGround, OutcomeAction

REFERENCE_FOR = {"illegal_content": "legal_provision", "terms_of_service": "terms_clause"}
"""Which reference field each ground needs (the other must be left out)."""


class TerritorialScopeIn(StrictModel):
    """Where the action applies: everywhere, or in the listed countries only."""

    type: Literal["global", "countries"] = Field(
        description="`global`, or `countries` with `countries` (DSA: territorial_scope)"
    )
    countries: list[str] | None = Field(
        default=None,
        min_length=1,
        max_length=250,
        description="ISO 3166-1 alpha-2 codes, for `countries` only; stored upper-case, "
        "de-duplicated and sorted",
    )

    @field_validator("countries")
    @classmethod
    def _iso_codes(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        codes = {str(code).strip().upper() for code in value}
        unknown = sorted(c for c in codes if c not in ISO_3166_ALPHA2)
        if unknown:
            shown = ", ".join(repr(c[:8]) for c in unknown[:5])
            raise ValueError(f"not ISO 3166-1 alpha-2 country codes: {shown}")
        return sorted(codes)


def _reference(description: str) -> Any:
    """An optional citation of up to 500 characters (a provision or a clause)."""
    return Field(default=None, min_length=1, max_length=500, description=description)


class StatementIn(StrictModel):
    """The platform's structured reasons for its outcome (a DSA statement of reasons)."""

    ground: DecisionGround = Field(description="DSA: decision_ground")
    legal_provision: str | None = _reference(
        "The legal provision cited; required for `illegal_content` "
        "(DSA: illegal_content_legal_ground)"
    )
    terms_clause: str | None = _reference(
        "The terms-of-service clause; required for `terms_of_service` "
        "(DSA: incompatible_content_ground)"
    )
    explanation: str | None = Field(
        default=None,
        min_length=1,
        max_length=4000,
        description="Why the content is illegal or incompatible (DSA: "
        "illegal_content_explanation / incompatible_content_explanation)",
    )
    automated_detection: bool = Field(description="DSA: automated_detection")
    automated_decision: AutomatedDecision = Field(
        description="DSA: automated_decision (AUTOMATED_DECISION_FULLY, _PARTIALLY, _NOT_AUTOMATED)"
    )
    territorial_scope: TerritorialScopeIn


STATEMENT_DESCRIPTION = (
    "Optional statement of reasons (DSA Transparency Database shape); required, with a "
    "country list, for `account_withheld_in_country`"
)


def check_statement(action: str | None, statement: StatementIn | None) -> None:
    """The rules tying a statement to its outcome and its fields to each other; 422 naming
    the failing field."""
    if statement is None:
        if action in SCOPED_ACTIONS:
            raise field_error("statement", f"required for {action} (its territorial scope)")
        return
    for ground, name in REFERENCE_FOR.items():
        given = getattr(statement, name) is not None
        if statement.ground == ground and not given:
            raise field_error(f"statement.{name}", f"required when ground is {ground}")
        if statement.ground != ground and given:
            raise field_error(f"statement.{name}", f"only for ground {ground}")
    scope = statement.territorial_scope
    if scope.type == "countries" and scope.countries is None:
        raise field_error("statement.territorial_scope.countries", "required for type countries")
    if scope.type == "global" and scope.countries is not None:
        raise field_error("statement.territorial_scope.countries", "only for type countries")
    if action in SCOPED_ACTIONS and scope.type != "countries":
        raise field_error(
            "statement.territorial_scope", f"{action} needs a list of countries, not global"
        )


def statement_row(statement: StatementIn, action: str) -> dict[str, object]:
    """The columns of outcome_statement for this statement (scope NULL: global)."""
    scope = statement.territorial_scope
    return {
        "action": action,
        "ground": statement.ground,
        "legal_provision": statement.legal_provision,
        "terms_clause": statement.terms_clause,
        "explanation": statement.explanation,
        "automated_detection": statement.automated_detection,
        "automated_decision": statement.automated_decision,
        "territorial_scope": scope.countries if scope.type == "countries" else None,
    }


class TerritorialScopeOut(BaseModel):
    """Where the action applies."""

    type: Literal["global", "countries"]
    countries: list[str] | None = Field(
        default=None, description="ISO 3166-1 alpha-2, sorted; present for `countries`"
    )


class StatementOut(BaseModel):
    """A stored statement of reasons (DSA Transparency Database shape; see StatementIn)."""

    decision: int = Field(description="1: the flag's first outcome; 2: a reconsidered one")
    action: OutcomeAction = Field(description="The outcome this statement gives reasons for")
    ground: DecisionGround
    legal_provision: str | None
    terms_clause: str | None
    explanation: str | None = Field(description="null once removed by the retention purge")
    automated_detection: bool
    automated_decision: AutomatedDecision
    territorial_scope: TerritorialScopeOut
    created_at: datetime
