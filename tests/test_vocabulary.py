"""The domain's enumerations live once, in app/vocabulary.py; everything else must agree."""

from __future__ import annotations

import re

import asyncpg
import pytest

from app.flags.state import TRANSITIONS, Status
from app.vocabulary import (
    AUTOMATED_DECISIONS,
    CATEGORIES,
    DECISION_GROUNDS,
    FLAG_KINDS,
    FLAG_STATUSES,
    OUTCOME_ACTIONS,
    PRIORITIES,
    REPORT_SOURCES,
)

# Every CHECK constraint that lists allowed values, and the list it must equal.
CHECKS = {
    "ck_flag_kind": FLAG_KINDS,
    "ck_flag_priority": PRIORITIES,
    "ck_flag_category": CATEGORIES,
    "ck_flag_status": FLAG_STATUSES,
    "ck_flag_outcome": OUTCOME_ACTIONS,
    "ck_outcome_statement_action": OUTCOME_ACTIONS,
    "ck_outcome_statement_ground": DECISION_GROUNDS,
    "ck_outcome_statement_automated_decision": AUTOMATED_DECISIONS,
    "ck_flag_reconsidered_action": OUTCOME_ACTIONS,
    "ck_deadline_policy_kind": FLAG_KINDS,
    "ck_deadline_policy_priority": PRIORITIES,
    "ck_platform_report_row_source": REPORT_SOURCES,
}


def _listed_values(definition: str) -> set[str]:
    return set(re.findall(r"'([^']*)'::text", definition))


@pytest.mark.asyncio
async def test_every_check_constraint_allows_exactly_the_vocabulary(database_url: str) -> None:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
            "WHERE contype = 'c' AND conname = ANY($1::text[])",
            list(CHECKS),
        )
    finally:
        await conn.close()
    found = {r["conname"]: _listed_values(r["def"]) for r in rows}
    assert set(found) == set(CHECKS)
    for name, values in CHECKS.items():
        assert found[name] == set(values), name


def test_state_machine_statuses_are_the_vocabulary() -> None:
    assert {s.value for s in Status} == set(FLAG_STATUSES)
    used = {s for pair in TRANSITIONS for s in (pair[0],)} | set(TRANSITIONS.values())
    assert used == set(Status)
