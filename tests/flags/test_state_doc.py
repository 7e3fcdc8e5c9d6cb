"""The lifecycle reference shows the state machine's one table, not a copy that can drift."""

from __future__ import annotations

from pathlib import Path

from app.flags.state import TRANSITIONS, Action, Status, transition_table

DOC = Path(__file__).resolve().parents[2] / "docs" / "lifecycle.md"


def test_lifecycle_doc_carries_the_transition_table() -> None:
    assert transition_table() in DOC.read_text(encoding="utf-8")


def test_transition_table_has_a_cell_for_every_status_and_action() -> None:
    rows = transition_table().splitlines()[2:]
    assert len(rows) == len(Status)
    allowed = sum(row.count("`") // 2 - 1 for row in rows)
    assert allowed == len(TRANSITIONS)
    assert all(row.count("|") == len(Action) + 2 for row in rows)
