"""The live database's SQL functions are exactly those of app/*/sql/*.sql, as written.

A function changed by hand in the database, left behind after its file dropped it, or
defined in two files fails here; so does an advisory-lock key that is not in the registry.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text

from app import sql_definitions
from app.kit.locks import AdvisoryLock, LockNamespace

APP = Path(sql_definitions.__file__).parent

# CREATE OR REPLACE FUNCTION name(...) ... AS $tag$ body $tag$
FUNCTION = re.compile(
    r"CREATE OR REPLACE FUNCTION\s+(\w+)\s*\(.*?\bAS\s+(\$\w*\$)(.*?)\2", re.DOTALL | re.IGNORECASE
)
TRIGGER = re.compile(r"CREATE OR REPLACE TRIGGER\s+(\w+)\s+\w+\s+.*?\bON\s+(\w+)", re.DOTALL)


def defined() -> dict[str, list[tuple[str, str]]]:
    """Every function name in the files -> [(file, body)] (more than one is a fault)."""
    found: dict[str, list[tuple[str, str]]] = {}
    for name in sql_definitions.FILES:
        for fn, _tag, body in FUNCTION.findall(sql_definitions.read(name)):
            found.setdefault(fn, []).append((name, body))
    return found


def test_every_sql_file_is_listed_and_every_listed_file_exists():
    on_disk = {str(p.relative_to(APP)) for p in APP.glob("*/sql/*.sql")}
    assert on_disk == set(sql_definitions.FILES)
    assert len(set(sql_definitions.FILES)) == len(sql_definitions.FILES)


def test_the_digest_changes_with_the_files(monkeypatch):
    before = sql_definitions.digest()
    sql_definitions.digest.cache_clear()
    original = sql_definitions.read
    monkeypatch.setattr(
        sql_definitions, "read", lambda name: original(name) + ("\n" if "clock" in name else "")
    )
    try:
        assert sql_definitions.digest() != before
    finally:
        sql_definitions.digest.cache_clear()


def test_the_live_functions_are_the_files_functions(pg_server, template_db):
    async def live() -> tuple[dict[str, list[str]], set[tuple[str, str]], str | None]:
        conn = await asyncpg.connect(pg_server.dsn(template_db))
        try:
            procs = await conn.fetch(
                "SELECT proname, prosrc FROM pg_proc WHERE proname LIKE 'fb\\_%' "
                "AND pronamespace = 'public'::regnamespace"
            )
            triggers = await conn.fetch(
                "SELECT t.tgname, c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "JOIN pg_proc p ON p.oid = t.tgfoid "
                "WHERE NOT t.tgisinternal "
                "AND (p.proname LIKE 'fb\\_stats%' OR p.proname LIKE 'fb\\_webhook%')"
            )
            stored = await conn.fetchval("SELECT max(digest) FROM sql_definitions")
        finally:
            await conn.close()
        by_name: dict[str, list[str]] = {}
        for r in procs:
            by_name.setdefault(r["proname"], []).append(r["prosrc"])
        return by_name, {(r["tgname"], r["relname"]) for r in triggers}, stored

    functions, triggers, stored = asyncio.run(live())
    files = defined()
    assert len(files) >= 30
    twice = {fn: [f for f, _ in where] for fn, where in files.items() if len(where) > 1}
    assert twice == {}, "defined in more than one file"
    assert set(functions) == set(files), "live functions differ from the files' functions"
    for fn, sources in functions.items():
        assert len(sources) == 1, f"{fn} is overloaded in the database"
        assert sources[0] == files[fn][0][1], f"{fn}: the live body differs from {files[fn][0][0]}"
    written = {
        (name, table)
        for file in sql_definitions.FILES
        for name, table in TRIGGER.findall(sql_definitions.read(file))
    }
    assert written and written == triggers
    assert stored == sql_definitions.digest()


# pg_advisory_lock(7243001), pg_try_advisory_xact_lock(7243004), ...
LOCK_KEY = re.compile(r"pg_(?:try_)?advisory_(?:xact_)?lock(?:_shared)?\s*\(\s*(\d+)\s*\)")
# hashtextextended(<value>, 7243): a key per value, seeded by the namespace's number.
NAMESPACE = re.compile(r"hashtextextended\((?:[^()]|\([^()]*\))*,\s*(\d+)\s*\)", re.DOTALL)


def test_every_advisory_lock_key_in_the_sql_files_is_in_the_registry():
    keys = {
        AdvisoryLock(int(k))
        for f in sql_definitions.FILES
        for k in LOCK_KEY.findall(sql_definitions.read(f))
    }
    seeds = {
        LockNamespace(int(s))
        for f in sql_definitions.FILES
        for s in NAMESPACE.findall(sql_definitions.read(f))
    }
    # The fold and the rebuild take STATS_FOLD; idempotency keys are seeded by its namespace.
    assert AdvisoryLock.STATS_FOLD in keys
    assert LockNamespace.IDEMPOTENCY in seeds


@pytest.mark.parametrize("key", ["pg_advisory_xact_lock(1234)", "pg_try_advisory_lock(99)"])
def test_an_unregistered_lock_key_would_be_caught(key):
    with pytest.raises(ValueError):
        AdvisoryLock(int(LOCK_KEY.findall(key)[0]))


async def test_readyz_is_503_while_the_sql_functions_are_another_versions(client, app):
    assert (await client.get("/readyz")).status_code == 200
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE sql_definitions SET digest = 'older'"))
    resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert "SQL functions" in resp.json()["detail"]
    assert "flagbridge migrate" in resp.json()["detail"]


async def test_upgrading_at_head_reapplies_changed_definitions_only(database_url):
    from app.migrations import upgrade_to_head
    from tests.conftest import ROOT

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    conn = await asyncpg.connect(dsn)
    try:
        # A body changed by hand, as if an older version's file were applied.
        await conn.execute(
            "CREATE OR REPLACE FUNCTION fb_ts(t timestamptz) RETURNS text "
            "LANGUAGE sql IMMUTABLE AS $$ SELECT 'tampered' $$"
        )
        applied_at = await conn.fetchval("SELECT applied_at FROM sql_definitions")
        # Same digest recorded: an upgrade at head writes nothing (the body stays).
        await asyncio.to_thread(upgrade_to_head, ROOT / "alembic", database_url)
        assert await conn.fetchval("SELECT fb_ts(now())") == "tampered"
        assert await conn.fetchval("SELECT applied_at FROM sql_definitions") == applied_at
        # Another digest recorded: the files are applied again.
        await conn.execute("UPDATE sql_definitions SET digest = 'older'")
        await asyncio.to_thread(upgrade_to_head, ROOT / "alembic", database_url)
        assert await conn.fetchval("SELECT fb_ts(now())") != "tampered"
        assert await conn.fetchval("SELECT digest FROM sql_definitions") == (
            sql_definitions.digest()
        )
    finally:
        await conn.close()
