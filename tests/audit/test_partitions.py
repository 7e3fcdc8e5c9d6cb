"""The audit log partitioned by month: partitions made ahead, months archived to a file and
detached, and a chain that still verifies (and still pinpoints tampering) afterwards."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy import text

from app.audit.sealing import seal_pending, verify_chain
from tests.cli.test_cli import cli
from tests.conftest import flag_body, party

PAST = "2026-08"  # a month before "now" (the machine's clock is 2026-11 or later)


def month_now() -> str:
    return datetime.now(UTC).strftime("%Y_%m")


async def scalar(app, sql: str, **params):
    async with app.state.engine.begin() as conn:
        return (await conn.execute(text(sql), params)).scalar()


async def superuser(app, *statements: str) -> None:
    """Tamper with the append-only triggers disabled, as a database superuser could."""
    async with app.state.engine.begin() as conn:
        for table in ("audit_entry", "audit_seal"):
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for statement in statements:
            await conn.execute(text(statement))
        for table in ("audit_entry", "audit_seal"):
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))


@pytest.fixture
async def with_past_month(app, world, client):
    """Entries this month (real submissions) and 4 entries dated in PAST, all sealed."""
    agency = await party(world, "agency", country="ID")
    await party(world, "platform", platform="twitter")
    await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    async with app.state.engine.begin() as conn:
        await conn.execute(text(f"SELECT fb_audit_ensure_partitions('{PAST}-01', '{PAST}-01')"))
        for day in (3, 9, 17, 30):
            await conn.execute(
                text(
                    "INSERT INTO audit_entry (at, action, object_type, object_id, data) "
                    "VALUES (:at, 'test.old', 'thing', :id, '{\"n\": 1}')"
                ),
                {"at": datetime.fromisoformat(f"{PAST}-{day:02d}T12:00:00+00:00"), "id": str(day)},
            )
    await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    await seal_pending(app.state.sessionmaker)
    return agency


async def test_entries_land_in_their_month_and_every_partition_refuses_changes(app, world, client):
    agency = await party(world, "agency", country="SG")
    await party(world, "platform", platform="twitter")
    await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    part = await scalar(
        app, "SELECT DISTINCT tableoid::regclass::text FROM audit_entry WHERE action LIKE 'flag.%'"
    )
    assert part == f"audit_entry_y{month_now().replace('_', 'm')}"
    before = await scalar(app, "SELECT count(*) FROM audit_entry")
    for statement in (
        f"TRUNCATE {part}",
        f"DELETE FROM {part}",
        f"UPDATE {part} SET data = '{{}}'",
    ):
        with pytest.raises(Exception, match="append-only"):
            async with app.state.engine.begin() as conn:
                await conn.execute(text(statement))
    assert await scalar(app, "SELECT count(*) FROM audit_entry") == before


async def test_partitions_are_made_ahead_once(app, database_url, tmp_path):
    res = await cli(
        ["audit", "partitions", "--ensure", "--months-ahead", "8", "--json"],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["created"] >= 4  # the migration made 3 months ahead
    attached = [p for p in out["partitions"] if p["state"] == "attached"]
    assert "audit_entry_default" in {p["name"] for p in attached}
    months = sorted(p["month"] for p in attached if p["month"])
    assert len(months) >= 9 and months[0] <= datetime.now(UTC).strftime("%Y-%m")
    again = await cli(
        ["audit", "partitions", "--ensure", "--months-ahead", "8", "--json"],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert json.loads(again.stdout)["created"] == 0


async def test_a_month_already_in_the_default_partition_is_skipped_not_fatal(app):
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_entry (at, action, object_type, object_id) "
                "VALUES ('2031-01-15T00:00:00Z', 'test.future', 't', '1')"
            )
        )
    assert await scalar(app, "SELECT count(*) FROM audit_entry_default") == 1
    created = await scalar(app, "SELECT fb_audit_ensure_partitions('2030-12-01', '2031-02-01')")
    assert created == 2  # December and February; January stays in the default partition
    assert await scalar(app, "SELECT to_regclass('audit_entry_y2031m01')") is None
    assert await scalar(app, "SELECT to_regclass('audit_entry_y2031m02')") is not None


async def test_archived_month_is_detached_and_the_chain_still_verifies(
    app, database_url, tmp_path, with_past_month
):
    out = tmp_path / "audit-2026-08.jsonl"
    res = await cli(
        ["audit", "archive", "--month", PAST, "--out", str(out), "--json"],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["entries"] == 4 and summary["partition"] == "audit_entry_y2026m08"
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [line["object_id"] for line in lines] == ["3", "9", "17", "30"]
    assert all(line["chain"]["position"] for line in lines)
    assert await scalar(app, "SELECT count(*) FROM audit_entry WHERE action = 'test.old'") == 0
    # Detached, not dropped: the table is kept for the operator to dump or move.
    assert await scalar(app, "SELECT count(*) FROM audit_entry_y2026m08") == 4
    assert (
        await scalar(
            app, "SELECT count(*) FROM audit_entry WHERE action = 'audit.partition_archived'"
        )
        == 1
    )

    res = await cli(["audit", "verify", "--json"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode == 0, res.stdout
    assert json.loads(res.stdout)["archived"] == 4
    res = await cli(
        ["audit", "verify", "--archive", str(out), "--json"],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stdout

    listed = await cli(
        ["audit", "partitions", "--json"], database_url=database_url, data_dir=tmp_path
    )
    archived = [p for p in json.loads(listed.stdout)["partitions"] if p["state"] == "archived"]
    assert archived[0]["name"] == "audit_entry_y2026m08" and archived[0]["entries"] == 4


async def test_an_altered_archive_file_is_caught(app, database_url, tmp_path, with_past_month):
    out = tmp_path / "a.jsonl"
    res = await cli(
        ["audit", "archive", "--month", PAST, "--out", str(out), "--drop", "--json"],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert await scalar(app, "SELECT to_regclass('audit_entry_y2026m08')") is None
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    forged = [dict(line) for line in lines]
    forged[2]["data"] = {"n": 2}
    # The CLI refuses a file whose digest matches no recorded archive ...
    bad = tmp_path / "forged.jsonl"
    bad.write_text("".join(json.dumps(line, sort_keys=True) + "\n" for line in forged))
    res = await cli(
        ["audit", "verify", "--archive", str(bad), "--json"],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 1 and "matches no recorded archive" in res.stdout
    # ... and the chain check itself pinpoints the altered line.
    sha = await scalar(app, "SELECT file_sha256 FROM audit_archive")
    async with app.state.sessionmaker() as session:
        result = await verify_chain(session, archive_files={sha: iter(forged)})
    assert not result.ok and result.first_bad_position == lines[2]["chain"]["position"]
    assert "altered" in (result.problem or "")
    async with app.state.sessionmaker() as session:
        result = await verify_chain(session, archive_files={sha: iter(lines[:3])})
    assert not result.ok and result.first_bad_position == lines[3]["chain"]["position"]


async def test_tampering_is_still_pinpointed_after_archiving(
    app, database_url, tmp_path, with_past_month
):
    res = await cli(
        ["audit", "archive", "--month", PAST, "--out", str(tmp_path / "a.jsonl")],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    async with app.state.engine.connect() as conn:
        rows = (
            await conn.execute(text("SELECT position, entry_seq FROM audit_seal ORDER BY position"))
        ).all()
    live = [r for r in rows if r.entry_seq not in await _archived_seqs(app)]
    victim = live[len(live) // 2]
    # A deleted entry of this month is not mistaken for an archived one.
    await superuser(app, f"DELETE FROM audit_entry WHERE seq = {victim.entry_seq}")
    async with app.state.sessionmaker() as session:
        result = await verify_chain(session)
    assert not result.ok and result.first_bad_seq == victim.entry_seq
    assert "missing" in (result.problem or "")
    # Nor when its link is re-dated into the archived month to pass it off as archived:
    # the month then has more missing entries than were archived (caught), and with the
    # archive file the re-dated entry itself is named (the file does not have it).
    await superuser(
        app,
        f"UPDATE audit_seal SET entry_at = '{PAST}-20T00:00:00Z' "
        f"WHERE entry_seq = {victim.entry_seq}",
    )
    async with app.state.sessionmaker() as session:
        result = await verify_chain(session)
    assert not result.ok and "more entries are missing" in (result.problem or "")
    lines = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    sha = await scalar(app, "SELECT file_sha256 FROM audit_archive")
    async with app.state.sessionmaker() as session:
        result = await verify_chain(session, archive_files={sha: iter(lines)})
    assert not result.ok and result.first_bad_seq == victim.entry_seq
    assert "lacks this entry" in (result.problem or "")


async def _archived_seqs(app) -> set[int]:
    async with app.state.engine.connect() as conn:
        return {r[0] for r in await conn.execute(text("SELECT seq FROM audit_entry_y2026m08"))}


async def test_the_current_month_cannot_be_archived(app, database_url, tmp_path):
    res = await cli(
        [
            "audit",
            "archive",
            "--month",
            datetime.now(UTC).strftime("%Y-%m"),
            "--out",
            str(tmp_path / "x.jsonl"),
        ],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode != 0 and "has not ended" in res.stderr + res.stdout
    assert not (tmp_path / "x.jsonl").exists()


async def test_upgrading_an_unpartitioned_log_keeps_every_entry_and_the_chain(pg_server):
    """The 0006 migration copies entries (seq, at, data) and backfills the chain's entry_at."""
    from alembic import command
    from app.audit import sealing
    from app.migrations import alembic_config
    from tests.conftest import ROOT

    name = "fbtest_partition_upgrade"
    admin = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    cfg = alembic_config(ROOT / "alembic", pg_server.url(name))
    import asyncio

    await asyncio.to_thread(command.upgrade, cfg, "0005_audit_checkpoints")
    conn = await asyncpg.connect(pg_server.dsn(name))
    try:
        await conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        for i in range(3):
            await conn.execute(
                "INSERT INTO audit_entry (action, object_type, object_id, data) "
                "VALUES ('test.before', 't', $1, $2)",
                str(i),
                {"i": i},
            )
        first = dict(await conn.fetchrow("SELECT * FROM audit_entry ORDER BY seq LIMIT 1"))
        leaf = sealing.entry_hash(first)
        await conn.execute(
            "INSERT INTO audit_seal (position, entry_seq, entry_txid, entry_hash, chain_hash) "
            "VALUES (1, $1, $2, $3, $4)",
            first["seq"],
            first["txid"],
            leaf,
            sealing.chain_hash(sealing.GENESIS, leaf),
        )
    finally:
        await conn.close()
    await asyncio.to_thread(command.upgrade, cfg, "head")

    from sqlalchemy.ext.asyncio import create_async_engine

    from app.db import make_sessionmaker

    engine = create_async_engine(pg_server.url(name))
    try:
        maker = make_sessionmaker(engine)
        async with maker() as session, session.begin():
            rows = (
                await session.execute(text("SELECT seq, data FROM audit_entry ORDER BY seq"))
            ).all()
            assert [r.data for r in rows] == [{"i": 0}, {"i": 1}, {"i": 2}]
            backfilled = (await session.execute(text("SELECT entry_at FROM audit_seal"))).scalar()
            assert backfilled == first["at"]
            await session.execute(
                text(
                    "INSERT INTO audit_entry (action, object_type, object_id) "
                    "VALUES ('test.after', 't', 'x')"
                )
            )
        async with maker() as session:
            new_seq = (
                await session.execute(
                    text("SELECT seq FROM audit_entry WHERE action = 'test.after'")
                )
            ).scalar()
        assert new_seq == rows[-1].seq + 1
        assert await seal_pending(maker) == 3
        async with maker() as session:
            result = await verify_chain(session)
        assert result.ok and result.entries == 4
    finally:
        await engine.dispose()


async def test_a_forged_archive_record_is_caught(app, database_url, tmp_path, with_past_month):
    """Lowering a month's recorded count (to hide one more deleted entry) or swapping the
    recorded file digest breaks the record's signature."""
    res = await cli(
        ["audit", "archive", "--month", PAST, "--out", str(tmp_path / "a.jsonl")],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert (await scalar(app, "SELECT signature FROM audit_archive")).count(".") == 2  # JWS
    count, digest = 4, await scalar(app, "SELECT file_sha256 FROM audit_archive")
    for forged, honest in (
        (f"entry_count = {count - 1}", f"entry_count = {count}"),
        (f"file_sha256 = '{'0' * 64}'", f"file_sha256 = '{digest}'"),
    ):
        await tamper_archive(app, forged)
        res = await cli(["audit", "verify", "--json"], database_url=database_url, data_dir=tmp_path)
        out = json.loads(res.stdout)
        assert res.returncode == 1 and out["archive"] == "audit_entry_y2026m08", out
        assert out["problem"].startswith("archive record: signed statement differs"), out
        await tamper_archive(app, honest)
        res = await cli(["audit", "verify", "--json"], database_url=database_url, data_dir=tmp_path)
        assert res.returncode == 0, res.stdout


async def tamper_archive(app, assignment: str) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_archive DISABLE TRIGGER USER"))
        await conn.execute(text(f"UPDATE audit_archive SET {assignment}"))
        await conn.execute(text("ALTER TABLE audit_archive ENABLE TRIGGER USER"))


async def test_an_archive_that_cannot_detach_leaves_nothing_behind(
    app, database_url, tmp_path, with_past_month
):
    """A long transaction holding the log blocks the detach: the archive gives up after its
    lock timeout, records nothing, removes its file, and a retry later succeeds."""
    blocker = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    out = tmp_path / "a.jsonl"
    try:
        tx = blocker.transaction()
        await tx.start()
        await blocker.fetchval("SELECT count(*) FROM audit_entry")
        res = await cli(
            ["audit", "archive", "--month", PAST, "--out", str(out)],
            database_url=database_url,
            data_dir=tmp_path,
        )
        assert res.returncode != 0 and "Could not detach" in res.stderr + res.stdout
        assert "Traceback" not in res.stderr
        assert not out.exists()
        await tx.rollback()
    finally:
        await blocker.close()
    assert await scalar(app, "SELECT count(*) FROM audit_archive") == 0
    assert await scalar(app, "SELECT count(*) FROM audit_entry WHERE action = 'test.old'") == 4
    res = await cli(
        ["audit", "archive", "--month", PAST, "--out", str(out)],
        database_url=database_url,
        data_dir=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert out.exists()
