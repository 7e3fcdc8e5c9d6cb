"""`GET /v1/audit/verify`: incremental from the newest verified checkpoint, full on request,
one at a time, hashing off the event loop."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import timedelta

import pytest
from sqlalchemy import text

from app.audit import sealing, verification
from tests.audit.test_chain import _checkpoint, superuser
from tests.cli.test_cli import cli
from tests.conftest import assert_problem, flag_body, party

VERIFY = "/v1/audit/verify"


async def _positions(app) -> dict[int, int]:
    """Chain position -> entry seq of every sealed link."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(text("SELECT position, entry_seq FROM audit_seal"))
        return dict(rows.all())


async def _activity(client, agency, n: int = 3) -> None:
    for _ in range(n):
        resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
        assert resp.status_code == 201, resp.text


@pytest.fixture
async def checkpointed(app, world, client):
    """A chain verified in full, a checkpoint at its head, then more entries after it."""
    agency = await party(world, "agency", country="MY")
    await party(world, "platform", platform="twitter")
    observer = await party(world, "observer")
    await _activity(client, agency)
    first = (await client.get(VERIFY, params={"full": "true"}, headers=observer.headers)).json()
    assert first["status"] == "ok" and first["full"] and first["start_checkpoint"] is None
    assert first["from_seq"] == 1 and first["to_seq"] == len(await _positions(app))
    cp = await _checkpoint(app)
    assert cp["seq"] == first["to_seq"]
    await _activity(client, agency)
    return observer, cp


async def test_incremental_run_checks_only_what_follows_the_verified_checkpoint(
    app, client, checkpointed
):
    observer, cp = checkpointed
    result = (await client.get(VERIFY, headers=observer.headers)).json()
    positions = await _positions(app)
    assert result["status"] == "ok" and result["full"] is False
    assert result["start_checkpoint"] == cp
    assert result["from_seq"] == cp["seq"] + 1 and result["to_seq"] == len(positions)
    assert result["entries"] == len(positions) - cp["seq"] > 0


async def test_tampering_after_the_checkpoint_is_caught_incrementally(app, client, checkpointed):
    observer, cp = checkpointed
    await sealing.seal_pending(app.state.sessionmaker)
    target = (await _positions(app))[cp["seq"] + 2]
    await superuser(app, f"UPDATE audit_entry SET action = 'x.forged' WHERE seq = {target}")
    result = (await client.get(VERIFY, headers=observer.headers)).json()
    assert result["status"] == "mismatch" and result["full"] is False
    assert result["first_bad_seq"] == target and result["to_seq"] == cp["seq"] + 1


async def test_tampering_before_the_checkpoint_needs_a_full_run(
    app, world, client, checkpointed, database_url, tmp_path
):
    observer, cp = checkpointed
    target = (await _positions(app))[2]
    await superuser(app, f"UPDATE audit_entry SET action = 'x.forged' WHERE seq = {target}")
    # The incremental run trusts what an earlier run verified: it cannot see this edit...
    quick = (await client.get(VERIFY, headers=observer.headers)).json()
    assert quick["status"] == "ok" and quick["from_seq"] == cp["seq"] + 1
    # ...a full run does; this client ran one less than a minute ago, so it must wait.
    busy = await client.get(VERIFY, params={"full": "true"}, headers=observer.headers)
    assert_problem(busy, 429)
    assert 1 <= int(busy.headers["Retry-After"]) <= 60
    auditor = await party(world, "observer")
    full = (await client.get(VERIFY, params={"full": "true"}, headers=auditor.headers)).json()
    assert full["status"] == "mismatch" and full["full"] and full["first_bad_seq"] == target
    # After a failed run nothing is trusted: the next default run starts from the start.
    again = (await client.get(VERIFY, headers=observer.headers)).json()
    assert again["status"] == "mismatch" and again["full"] and again["start_checkpoint"] is None
    # The operator's CLI verifies in full by default, and finds it too.
    env = {"FLAGBRIDGE_KEYS_DIR": str(app.state.settings.resolved_keys_dir)}
    opts = {"database_url": database_url, "data_dir": tmp_path, "env": env}
    res = await cli(["audit", "verify", "--json"], **opts)
    assert res.returncode == 1 and json.loads(res.stdout)["first_bad_seq"] == target


async def test_cli_incremental_names_the_checkpoint_it_started_from(
    app, client, checkpointed, database_url, tmp_path
):
    env = {"FLAGBRIDGE_KEYS_DIR": str(app.state.settings.resolved_keys_dir)}
    opts = {"database_url": database_url, "data_dir": tmp_path, "env": env}
    res = await cli(["audit", "verify", "--incremental"], **opts)
    assert res.returncode == 0, res.stderr
    assert f"after checkpoint seq {checkpointed[1]['seq']}" in res.stdout


class _HeldHashing:
    """Replaces the leaf hash so that the first call waits (in whatever thread runs it)
    until the test lets it go, and records whether it was let go before its wait ended."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.started = threading.Event()
        self.release = threading.Event()
        self.released_in_time: bool | None = None
        real = sealing.entry_hash

        def held(row):
            if not self.started.is_set():
                self.started.set()
                # Were hashing on the event loop, nothing could set `release` until this
                # wait gave up: the loop would be stuck here.
                self.released_in_time = self.release.wait(60)
            return real(row)

        monkeypatch.setattr(sealing, "entry_hash", held)

    async def wait_started(self) -> None:
        assert await asyncio.to_thread(self.started.wait, 60)


async def test_event_loop_serves_while_a_verification_hashes(
    app, world, client, checkpointed, monkeypatch
):
    auditor = await party(world, "observer")
    # Sealed beforehand, so that the hashing held is the verification's own.
    await sealing.seal_pending(app.state.sessionmaker)
    held = _HeldHashing(monkeypatch)
    running = asyncio.create_task(
        client.get(VERIFY, params={"full": "true"}, headers=auditor.headers)
    )
    await held.wait_started()
    health = await client.get("/healthz")
    assert health.status_code == 200
    held.release.set()
    result = await running
    assert result.status_code == 200 and result.json()["status"] == "ok"
    assert held.released_in_time is True  # the health check finished while it hashed


async def test_concurrent_verifications_are_one_at_a_time(
    app, world, client, checkpointed, monkeypatch
):
    observer, _ = checkpointed
    other = await party(world, "observer")
    held = _HeldHashing(monkeypatch)
    running = asyncio.create_task(
        client.get(VERIFY, params={"full": "true"}, headers=other.headers)
    )
    await held.wait_started()
    second = await client.get(VERIFY, headers=observer.headers)
    held.release.set()
    assert_problem(second, 429)
    assert int(second.headers["Retry-After"]) > 0
    first = await running
    assert first.status_code == 200 and first.json()["status"] == "ok"
    # Once the first is done, the next one runs.
    third = await client.get(VERIFY, headers=observer.headers)
    assert third.status_code == 200 and third.json()["status"] == "ok"


async def test_background_full_run_is_once_per_interval_across_processes(
    app, client, checkpointed, caplog
):
    run = verification.verify_fully_if_due
    args = (app.state.sessionmaker, app.state.verifier.ring)
    # The fixture's full run was just now: not due yet.
    assert await run(*args, every=timedelta(hours=1)) is None
    target = (await _positions(app))[1]
    await superuser(app, f"UPDATE audit_entry SET action = 'x.forged' WHERE seq = {target}")
    result = await run(*args, every=timedelta(0))
    assert result is not None and result["first_bad_seq"] == target
    assert any(r.message == "audit log verification failed" for r in caplog.records)
