"""The audit hash chain: concurrent writers sealed once each, in order; tampering pinpointed."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from app.audit.sealing import seal_pending, verify_chain
from tests.conftest import flag_body, party


async def verify(app):
    async with app.state.sessionmaker() as session:
        return await verify_chain(session)


async def superuser(app, *statements: str) -> None:
    """Tamper as a database superuser would: with the append-only triggers disabled."""
    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
        for statement in statements:
            await conn.execute(text(statement))
        await conn.execute(text("ALTER TABLE audit_entry ENABLE TRIGGER USER"))


@pytest.fixture
async def sealed_world(app, world, client):
    agency = await party(world, "agency", country="MY")
    await party(world, "platform", platform="twitter")
    for _ in range(5):
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    await seal_pending(app.state.sessionmaker)
    result = await verify(app)
    assert result.ok and result.entries >= 9
    async with app.state.engine.connect() as conn:
        seqs = [
            r[0]
            for r in await conn.execute(text("SELECT entry_seq FROM audit_seal ORDER BY position"))
        ]
    return seqs


async def test_concurrent_writers_are_sealed_exactly_once(app, world, client, database_url):
    """Writers with deliberately interleaved commits: every entry sealed once, chain valid."""
    import asyncpg

    agency = await party(world, "agency", country="PH")
    await party(world, "platform", platform="twitter")
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://")
    slow = await asyncpg.connect(dsn)
    try:
        tx = slow.transaction()
        await tx.start()
        # An early entry whose transaction commits last.
        await slow.execute(
            "INSERT INTO audit_entry (action, object_type, object_id) "
            "VALUES ('test.slow', 't', 'x')"
        )
        await asyncio.gather(
            *(
                client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
                for _ in range(20)
            )
        )
        await seal_pending(app.state.sessionmaker)  # cannot pass the open transaction
        await tx.commit()
    finally:
        await slow.close()
    await seal_pending(app.state.sessionmaker)
    async with app.state.engine.connect() as conn:
        entries = (await conn.execute(text("SELECT count(*) FROM audit_entry"))).scalar()
        sealed = (
            await conn.execute(text("SELECT count(DISTINCT entry_seq) FROM audit_seal"))
        ).scalar()
        positions = (await conn.execute(text("SELECT count(*) FROM audit_seal"))).scalar()
    assert entries == sealed == positions
    result = await verify(app)
    assert result.ok and result.entries == entries


async def test_edited_entry_is_pinpointed(app, sealed_world):
    target = sealed_world[4]
    await superuser(
        app, f"UPDATE audit_entry SET data = '{{\"forged\": true}}' WHERE seq = {target}"
    )
    result = await verify(app)
    assert not result.ok and result.first_bad_seq == target


async def test_deleted_middle_entry_is_pinpointed(app, sealed_world):
    target = sealed_world[3]
    await superuser(app, f"DELETE FROM audit_entry WHERE seq = {target}")
    result = await verify(app)
    assert not result.ok and result.first_bad_seq == target
    assert "missing" in result.problem


async def test_swapped_entries_are_pinpointed(app, sealed_world):
    a, b = sealed_world[2], sealed_world[5]
    await superuser(
        app,
        f"""UPDATE audit_entry e SET action = o.action, object_id = o.object_id, data = o.data
            FROM audit_entry o WHERE (e.seq, o.seq) IN (({a}, {b}), ({b}, {a}))""",
    )
    result = await verify(app)
    assert not result.ok and result.first_bad_seq == a


async def test_the_chain_itself_is_append_only(app, sealed_world):
    from sqlalchemy.exc import DBAPIError

    with pytest.raises(DBAPIError, match="audit_seal is append-only: DELETE"):
        async with app.state.engine.begin() as conn:
            await conn.execute(text("DELETE FROM audit_seal"))


async def test_verify_endpoint_and_cli(app, world, client, database_url, tmp_path, sealed_world):
    observer = await party(world, "observer")
    resp = await client.get("/v1/audit/verify", headers=observer.headers)
    assert resp.status_code == 200 and resp.json()["status"] == "ok"
    from tests.cli.test_cli import cli

    res = await cli(["audit", "verify", "--json"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode == 0, res.stderr
    await superuser(
        app, f"UPDATE audit_entry SET action = 'x.forged' WHERE seq = {sealed_world[1]}"
    )
    resp = await client.get("/v1/audit/verify", headers=observer.headers)
    assert resp.json()["status"] == "mismatch" and resp.json()["first_bad_seq"] == sealed_world[1]
    res = await cli(["audit", "verify", "--json"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode == 1
    assert f"seq {sealed_world[1]}" in res.stdout or str(sealed_world[1]) in res.stdout


async def _checkpoint(app):
    from datetime import timedelta

    from app.audit import checkpoints

    return await checkpoints.create_if_due(
        app.state.sessionmaker, app.state.verifier.ring, min_interval=timedelta(0), force=True
    )


async def test_checkpoints_are_signed_and_published(app, world, client, sealed_world):
    from jose import jws

    cp = await _checkpoint(app)
    assert cp["seq"] == len(sealed_world) and len(cp["head_hash"]) == 64
    observer = await party(world, "observer")
    listed = (await client.get("/v1/audit/checkpoints", headers=observer.headers)).json()
    assert listed["items"] == [cp]
    # Anyone can check the signature with the published JWKS.
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key = next(k for k in jwks["keys"] if k["kid"] == cp["kid"])
    payload = jws.verify(cp["signature"], key, algorithms=["ES256"])
    assert b'"head_hash"' in payload and cp["head_hash"].encode() in payload
    assert await _checkpoint(app) is None  # nothing new to sign


async def test_forged_checkpoint_is_reported(app, world, client, sealed_world):
    await _checkpoint(app)
    observer = await party(world, "observer")
    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_checkpoint DISABLE TRIGGER USER"))
        await conn.execute(text("UPDATE audit_checkpoint SET head_hash = '\\x00'::bytea"))
        await conn.execute(text("ALTER TABLE audit_checkpoint ENABLE TRIGGER USER"))
    result = (await client.get("/v1/audit/verify", headers=observer.headers)).json()
    assert result["status"] == "mismatch" and "signed statement differs" in result["problem"]


async def test_dropped_tail_is_caught_by_a_saved_checkpoint(
    app, world, client, sealed_world, database_url, tmp_path
):
    import json as _json

    from tests.cli.test_cli import cli

    saved = await _checkpoint(app)
    (tmp_path / "cp.json").write_text(_json.dumps(saved))
    # A superuser drops the last sealed entries, their links and the stored checkpoints.
    tail = sealed_world[-2:]
    async with app.state.engine.begin() as conn:
        for table in ("audit_entry", "audit_seal", "audit_checkpoint"):
            await conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        await conn.execute(
            text(f"DELETE FROM audit_seal WHERE entry_seq IN ({tail[0]}, {tail[1]})")
        )
        await conn.execute(text(f"DELETE FROM audit_entry WHERE seq IN ({tail[0]}, {tail[1]})"))
        await conn.execute(text("DELETE FROM audit_checkpoint"))
        for table in ("audit_entry", "audit_seal", "audit_checkpoint"):
            await conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    # The shortened chain is self-consistent...
    assert (await verify(app)).ok
    opts = {"database_url": database_url, "data_dir": tmp_path}
    env_keys = {"FLAGBRIDGE_KEYS_DIR": str(app.state.settings.resolved_keys_dir)}
    import os

    os.environ.update(env_keys)
    try:
        ok = await cli(["audit", "verify", "--json"], **opts)
        assert ok.returncode == 0, ok.stderr
        # ...but not with the checkpoint an agency kept.
        res = await cli(
            ["audit", "verify", "--json", "--from-checkpoint", str(tmp_path / "cp.json")], **opts
        )
    finally:
        for k in env_keys:
            os.environ.pop(k, None)
    assert res.returncode == 1
    assert "tail was dropped" in _json.loads(res.stdout)["problem"]


async def test_export_streams_entries_with_their_chain(app, sealed_world, database_url, tmp_path):
    import json as _json

    from tests.cli.test_cli import cli

    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(["audit", "export"], **opts)
    assert res.returncode == 0, res.stderr
    lines = [_json.loads(line) for line in res.stdout.splitlines()]
    async with app.state.engine.connect() as conn:
        total = (await conn.execute(text("SELECT count(*) FROM audit_entry"))).scalar()
    assert len(lines) == total and [e["seq"] for e in lines] == sorted(e["seq"] for e in lines)
    sealed = [e for e in lines if e["chain"]]
    assert [e["seq"] for e in sealed] == sealed_world
    assert f"exported {total} entries" in res.stderr
    none = await cli(["audit", "export", "--since", "2999-01-01T00:00:00Z"], **opts)
    assert none.stdout == ""
    bad = await cli(["audit", "export", "--since", "yesterday"], **opts)
    assert bad.returncode == 1 and "RFC 3339" in bad.stderr
