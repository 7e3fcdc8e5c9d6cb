"""The SQL's notion of a live flag is app/flags/state.py's LIVE, wherever SQL spells it out.

The state machine has one home (state.py); SQL cannot import it, so every place that writes
"live" as a list of statuses (the partial indexes, corroboration counting and events,
submission's duplicate check) is read back from the migrated database and compared.
"""

from __future__ import annotations

import asyncio
import re

import asyncpg

from app.flags.state import LIVE, Status

ALL = {s.value for s in Status}
LIVE_VALUES = {s.value for s in LIVE}
NOT_LIVE = re.compile(r"status\s+NOT IN\s*\(([^)]*)\)", re.IGNORECASE)
VISIBLE = re.compile(r"status\s+IN\s*\(([^)]*)\)", re.IGNORECASE)


def quoted(text: str) -> set[str]:
    """The quoted words in a fragment of SQL."""
    return set(re.findall(r"'(\w+)'", text))


def test_live_statuses_in_sql_match_the_state_machine(pg_server, template_db):
    async def read() -> tuple[dict[str, str], dict[str, str]]:
        conn = await asyncpg.connect(pg_server.dsn(template_db))
        try:
            indexes = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1)",
                ["uq_flag_agency_account_live", "ix_flag_account_live"],
            )
            functions = await conn.fetch(
                "SELECT proname, prosrc FROM pg_proc WHERE proname = ANY($1)",
                ["fb_corroborations_of", "fb_corroboration_events", "fb_submit_flag"],
            )
        finally:
            await conn.close()
        return (
            {r["indexname"]: r["indexdef"] for r in indexes},
            {r["proname"]: r["prosrc"] for r in functions},
        )

    indexes, functions = asyncio.run(read())
    assert len(indexes) == 2 and len(functions) == 3
    for name, definition in indexes.items():
        # PostgreSQL prints NOT IN (...) as <> ALL (ARRAY[...]).
        predicate = definition.split(" WHERE ", 1)[1]
        assert "<> ALL" in predicate, name
        assert ALL - quoted(predicate) == LIVE_VALUES, name
    for name in ("fb_corroborations_of", "fb_submit_flag"):
        lists = NOT_LIVE.findall(functions[name])
        assert lists, name
        for excluded in lists:
            assert ALL - quoted(excluded) == LIVE_VALUES, name
    # What a platform sees as live: every live status but held.
    visible = VISIBLE.findall(functions["fb_corroboration_events"])
    assert [quoted(v) for v in visible] == [LIVE_VALUES - {Status.HELD.value}]
