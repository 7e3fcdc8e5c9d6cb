"""A flag's document stays one inlined expression (app/flags/sql/render.sql).

A feed page and a batch of answers render hundreds of flags; PostgreSQL inlines
`fb_flag_doc` and `fb_ts` only while their bodies are single expressions no more volatile
than declared. A key added with a volatile function or a sub-select silently turns every
flag back into function calls (about seven times slower, benchmarks/README.md), so the plan
is checked here: the functions' names must not survive into it.
"""

from __future__ import annotations

from sqlalchemy import text


async def plan_of(app, sql: str) -> str:
    """EXPLAIN VERBOSE of a statement, as one text."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(text(f"EXPLAIN (VERBOSE, COSTS OFF) {sql}"))
        return "\n".join(r[0] for r in rows)


async def test_the_flag_document_is_inlined_into_the_statement(app):
    plan = await plan_of(app, "SELECT fb_flag_doc(f, 'agency', '{}') FROM flag f")
    assert "jsonb_build_object('id'" in plan
    assert "fb_flag_doc(" not in plan
    assert "fb_ts(" not in plan


async def test_the_platform_view_is_inlined_too(app):
    plan = await plan_of(app, "SELECT fb_flag_platform_view(f) FROM flag f")
    assert "fb_flag_platform_view(" not in plan
    assert "to_char(" in plan
