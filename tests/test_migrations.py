"""Migrations apply, revert and re-apply cleanly, and the ORM models match them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from alembic import command
from app.migrations import alembic_config
from tests.conftest import _quote

ROOT = Path(__file__).resolve().parent.parent


def _fresh_database(pg_server, name: str) -> None:
    """Drop and create an empty database for one migration test."""

    async def recreate() -> None:
        conn = await asyncpg.connect(pg_server.dsn("postgres"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {_quote(name)}")
        finally:
            await conn.close()

    asyncio.run(recreate())


def _on(pg_server, name: str, sql: str, *args: object) -> list[asyncpg.Record]:
    """Run SQL on one test database: the rows of a SELECT; a write or a script returns []."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(pg_server.dsn(name))
        try:
            if sql.lstrip().upper().startswith("SELECT"):
                return list(await conn.fetch(sql, *args))
            await conn.execute(sql, *args)
            return []
        finally:
            await conn.close()

    return asyncio.run(run())


def test_upgrade_downgrade_upgrade(pg_server):
    name = "fbtest_migrations"

    def tables() -> set[str]:
        rows = _on(pg_server, name, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r[0] for r in rows}

    _fresh_database(pg_server, name)
    cfg = alembic_config(ROOT / "alembic", pg_server.url(name))
    command.upgrade(cfg, "head")
    assert {"flag", "feed_event", "hold", "organization", "audit_entry"} <= tables()
    command.downgrade(cfg, "base")
    assert tables() <= {"alembic_version"}
    command.upgrade(cfg, "head")
    assert "flag" in tables()


@pytest.mark.filterwarnings("ignore:Did not recognize type 'xid8'")
def test_models_match_the_migrated_schema(pg_server, template_db):
    """Alembic's autogenerate finds nothing to do: models and migrations agree."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlalchemy.ext.asyncio import create_async_engine

    from app.migrations import include_name
    from app.models import Base

    async def diff() -> list:
        engine = create_async_engine(pg_server.url(template_db))
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: compare_metadata(
                        MigrationContext.configure(
                            sync, opts={"compare_type": True, "include_name": include_name}
                        ),
                        Base.metadata,
                    )
                )
        finally:
            await engine.dispose()

    assert asyncio.run(diff()) == []


def test_identity_migration_canonicalises_merges_and_reports_conflicts(pg_server):
    """0009 on a populated database: spellings of one account merge, contradictions are
    written to account_conflict instead of guessed."""
    name = "fbtest_identity_migration"

    def run(sql: str) -> list[asyncpg.Record]:
        return _on(pg_server, name, sql)

    _fresh_database(pg_server, name)
    cfg = alembic_config(ROOT / "alembic", pg_server.url(name))
    command.upgrade(cfg, "0008_sql_definitions")
    run(
        "INSERT INTO organization (kind, name, platform) VALUES ('platform', 'X', 'twitter');"
        "INSERT INTO account (platform, handle, url, external_id) VALUES "
        "('twitter', 'Cell_X', NULL, NULL), ('twitter', NULL, 'https://x.com/cell_x/', NULL),"
        "('twitter', 'dup', NULL, '1'), ('twitter', NULL, 'https://twitter.com/DUP', NULL),"
        "('twitter', NULL, 'https://mobile.twitter.com/dup', '2'),"
        "('twitter', 'has space', NULL, NULL), ('elsewhere', 'Some-One', NULL, NULL)"
    )
    command.upgrade(cfg, "head")
    keys = {r["key"]: r["account_id"] for r in run("SELECT key, account_id FROM account_key")}
    assert set(keys) == {"handle:cell_x", "handle:dup", "id:1", "id:2", "handle:some-one"}
    conflicts = run("SELECT reason, cardinality(account_ids) AS n FROM account_conflict")
    reasons = sorted(r["reason"].split(":")[0] for r in conflicts)
    assert reasons == ["accounts sharing a key have different ids", "not canonical"]
    profiles = run("SELECT identity_profile FROM organization")
    assert [r["identity_profile"] for r in profiles] == ["twitter"]
    # The two spellings of cell_x are one account now; the dup accounts stay apart.
    assert run("SELECT count(*) AS n FROM account")[0]["n"] == 6


def test_witness_migration_gives_existing_member_clients_the_checkpoint_scope(pg_server):
    """Clients made before 0012 can read and co-sign checkpoints after it; operators cannot."""
    name = "fbtest_witness_scope"

    def run(sql: str, *args: object) -> list[asyncpg.Record]:
        return _on(pg_server, name, sql, *args)

    _fresh_database(pg_server, name)
    cfg = alembic_config(ROOT / "alembic", pg_server.url(name))
    command.upgrade(cfg, "0011_identity")
    for kind, country, scopes in (
        ("agency", "ID", ["flags:submit", "flags:read", "feed:read"]),
        ("observer", None, ["stats:read"]),
        ("operator", None, ["admin"]),
    ):
        run(
            "WITH o AS (INSERT INTO organization (kind, name, country) VALUES ($1, $1, $2) "
            "RETURNING id) INSERT INTO api_client (organization_id, name, secret_hash, scopes) "
            "SELECT id, $1, 'x', $3::text[] FROM o",
            kind,
            country,
            scopes,
        )
    command.upgrade(cfg, "head")
    rows = run("SELECT name, scopes FROM api_client")
    scopes = {r["name"]: r["scopes"] for r in rows}
    assert scopes["agency"] == ["flags:submit", "flags:read", "feed:read", "audit:checkpoints"]
    assert scopes["observer"] == ["stats:read", "audit:checkpoints"]
    assert scopes["operator"] == ["admin"]
    command.downgrade(cfg, "0011_identity")
    rows = run("SELECT name, scopes FROM api_client WHERE name = 'agency'")
    assert rows[0]["scopes"] == ["flags:submit", "flags:read", "feed:read"]
