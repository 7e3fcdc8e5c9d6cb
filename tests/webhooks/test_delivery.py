"""Delivering the outbox to a real loopback receiver: retries, 410, rollback, crashes,
concurrent workers, order per flag."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import standardwebhooks
from sqlalchemy import text

from app.webhooks.worker import DeliveryWorker
from tests.conftest import flag_body, party

ROOT = Path(__file__).resolve().parents[2]


async def _setup(world, client, receiver):
    agency = await party(world, "agency", country="SG")
    slug = f"p{time.monotonic_ns() % 10**9}"
    platform = await party(world, "platform", platform=slug)
    made = await client.put("/v1/webhook", json={"url": receiver.url}, headers=platform.headers)
    assert made.status_code == 200, made.text
    return agency, platform, slug, made.json()["secret"]


async def _submit(client, agency, slug) -> str:
    resp = await client.post("/v1/flags", json=flag_body(slug), headers=agency.headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def _deliveries(app) -> list[dict]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT event_id, status, attempts, last_status_code, last_attempt_at, "
                "next_attempt_at FROM webhook_delivery ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


async def _until(predicate, worker: DeliveryWorker | None = None, within: float = 20.0):
    deadline = time.monotonic() + within
    while not await predicate():
        assert time.monotonic() < deadline, "condition not reached before the deadline"
        if worker is not None:
            await worker.run_once()
        await asyncio.sleep(0.02)


async def test_fails_then_succeeds_on_schedule_with_the_same_id(app, world, client, receiver):
    agency, platform, slug, secret = await _setup(world, client, receiver)
    fid = await _submit(client, agency, slug)
    receiver.script = [500, 503]
    worker = DeliveryWorker(app.state.sessionmaker, app.state.settings)

    assert await worker.run_once() == 1
    (row,) = await _deliveries(app)
    assert (row["status"], row["attempts"], row["last_status_code"]) == ("pending", 1, 500)
    base = app.state.settings.webhook_retry_base_seconds
    gap = (row["next_attempt_at"] - row["last_attempt_at"]).total_seconds()
    assert 0.8 * base <= gap <= 1.2 * base + 1.0, gap
    assert await worker.run_once() == 0, "retried before its time"

    async def delivered() -> bool:
        return (await _deliveries(app))[0]["status"] == "delivered"

    await _until(delivered, worker)
    got = receiver.requests
    assert [r.status for r in got] == [500, 503, 200]
    assert len({r.headers["webhook-id"] for r in got}) == 1
    assert len({r.body for r in got}) == 1
    for r in got:
        standardwebhooks.Webhook(secret).verify(r.body, r.headers)
    body = json.loads(got[0].body)
    assert body["type"] == "flag.created" and body["flag"]["id"] == fid
    assert (await _deliveries(app))[0]["attempts"] == 3
    # The first hand-over by webhook marks the flag delivered, as the feed would.
    flag = (await client.get(f"/v1/flags/{fid}", headers=agency.headers)).json()
    assert flag["delivered_at"] is not None
    page = (await client.get("/v1/webhook/deliveries", headers=platform.headers)).json()
    assert page["items"][0]["status"] == "delivered" and page["items"][0]["attempts"] == 3
    assert secret not in json.dumps(page)


async def test_410_disables_the_webhook_and_stops_new_deliveries(app, world, client, receiver):
    agency, platform, slug, _ = await _setup(world, client, receiver)
    await _submit(client, agency, slug)
    receiver.script = [410]
    worker = DeliveryWorker(app.state.sessionmaker, app.state.settings)
    await worker.run_once()
    hook = (await client.get("/v1/webhook", headers=platform.headers)).json()
    assert hook["status"] == "disabled" and "410" in hook["disabled_reason"]
    await _submit(client, agency, slug)
    assert len(await _deliveries(app)) == 1
    assert await worker.run_once() == 0
    assert len(receiver.requests) == 1


async def test_window_of_failures_disables_and_stats_show_it(app, world, client, receiver):
    app.state.settings = app.state.settings.model_copy(update={"webhook_retry_window_seconds": 0.5})
    agency, platform, slug, _ = await _setup(world, client, receiver)
    await _submit(client, agency, slug)
    receiver.answer = lambda headers, body: 500
    worker = DeliveryWorker(app.state.sessionmaker, app.state.settings)

    async def disabled() -> bool:
        r = await client.get("/v1/webhook", headers=platform.headers)
        return bool(r.json()["status"] == "disabled")

    await _until(disabled, worker)
    assert (await _deliveries(app))[0]["status"] == "failed"
    stats = await client.get("/v1/stats/platforms", headers=await world.headers("observer"))
    (mine,) = [p for p in stats.json()["items"] if p["platform"] == slug]
    assert mine["webhook"] == "disabled"


class _RolledBack(Exception):
    pass


async def test_a_rolled_back_change_is_never_announced(app, world, client, receiver):
    _, platform, _, _ = await _setup(world, client, receiver)
    with pytest.raises(_RolledBack):
        async with app.state.sessionmaker() as session, session.begin():
            await session.execute(
                text("INSERT INTO feed_event (recipient_org_id, type) VALUES (:o, 'flag.created')"),
                {"o": platform.org_id},
            )
            inside = (await session.execute(text("SELECT count(*) FROM webhook_delivery"))).scalar()
            assert inside == 1  # the outbox row is written with the event...
            raise _RolledBack  # ...and goes with it
    assert await _deliveries(app) == []
    assert await DeliveryWorker(app.state.sessionmaker, app.state.settings).run_once() == 0
    assert receiver.requests == []


async def test_delivery_resumes_after_a_worker_dies_mid_call(app, world, client, receiver):
    agency, _, slug, _ = await _setup(world, client, receiver)
    await _submit(client, agency, slug)
    receiver.script = ["hang"]
    dying = DeliveryWorker(app.state.sessionmaker, app.state.settings)
    task = asyncio.create_task(dying.run_once())
    await receiver.wait_for(1)
    task.cancel()  # killed while the endpoint had the request
    with contextlib.suppress(asyncio.CancelledError):
        await task
    survivor = DeliveryWorker(app.state.sessionmaker, app.state.settings)
    assert await survivor.run_once() == 0, "the dead worker's lease must hold until it ends"

    async def delivered() -> bool:
        return (await _deliveries(app))[0]["status"] == "delivered"

    await _until(delivered, survivor)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [
        receiver.requests[0].headers["webhook-id"]
    ] * 2
    assert (await _deliveries(app))[0]["attempts"] == 2


def _worker_process(database_url: str, folder: Path, name: str) -> subprocess.Popen[bytes]:
    """`flagbridge worker` in its own process, on this test's database, with a lease short
    enough to wait for (it must exceed the timeout, which must outlast the kill)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLAGBRIDGE_DATA_DIR": str(folder),
        "FLAGBRIDGE_MIGRATIONS_DIR": str(ROOT / "alembic"),
        "FLAGBRIDGE_WEBHOOK_ALLOW_PRIVATE": "true",
        "FLAGBRIDGE_WEBHOOK_TIMEOUT_SECONDS": "4",
        "FLAGBRIDGE_WEBHOOK_LEASE_SECONDS": "5",
        "FLAGBRIDGE_WEBHOOK_POLL_SECONDS": "0.05",
    }
    log = (folder / f"{name}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "worker"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


async def _exited(proc: subprocess.Popen[bytes], within: float = 20.0) -> int:
    deadline = time.monotonic() + within
    while proc.poll() is None:
        assert time.monotonic() < deadline, "the worker did not exit"
        await asyncio.sleep(0.02)
    return proc.returncode


async def test_a_killed_worker_process_leaves_the_delivery_to_the_next_after_its_lease(
    app, world, client, receiver, database_url, tmp_path
):
    agency, _, slug, secret = await _setup(world, client, receiver)
    await _submit(client, agency, slug)
    receiver.script = ["hang"]  # the first worker's request is never answered
    first = _worker_process(database_url, tmp_path, "first")
    second = None
    try:
        await receiver.wait_for(1, within=60)
        first.send_signal(signal.SIGKILL)  # mid-delivery: the endpoint has the request
        assert await _exited(first) == -signal.SIGKILL
        (held,) = await _deliveries(app)
        assert (held["status"], held["attempts"]) == ("pending", 1)
        lease_end = held["next_attempt_at"]

        second = _worker_process(database_url, tmp_path, "second")

        async def delivered() -> bool:
            return (await _deliveries(app))[0]["status"] == "delivered"

        await _until(delivered, within=60)
        second.send_signal(signal.SIGTERM)
        assert await _exited(second) == 0, (tmp_path / "second.log").read_text()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    (row,) = await _deliveries(app)
    assert row["attempts"] == 2
    assert row["last_attempt_at"] >= lease_end, "taken over before the dead worker's lease ended"
    hung, answered = receiver.requests  # exactly two requests: one lost, one delivered
    assert (hung.status, answered.status) == (0, 200)
    assert hung.headers["webhook-id"] == answered.headers["webhook-id"]
    assert hung.body == answered.body
    standardwebhooks.Webhook(secret).verify(answered.body, answered.headers)


async def test_two_workers_never_send_one_attempt_twice(app, world, client, receiver):
    agency, _, slug, _ = await _setup(world, client, receiver)
    resp = await client.post(
        "/v1/flags/batch",
        json={"flags": [flag_body(slug) for _ in range(40)]},
        headers=agency.headers,
    )
    assert resp.status_code < 300, resp.text
    stop = asyncio.Event()
    workers = [DeliveryWorker(app.state.sessionmaker, app.state.settings) for _ in range(2)]
    tasks = [asyncio.create_task(w.run_forever(stop)) for w in workers]
    try:
        await receiver.wait_for(40)

        async def all_delivered() -> bool:
            return all(d["status"] == "delivered" for d in await _deliveries(app))

        await _until(all_delivered)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    ids = [r.headers["webhook-id"] for r in receiver.requests]
    assert len(ids) == len(set(ids)) == 40


async def test_events_of_one_flag_arrive_in_feed_order(app, world, client, receiver):
    agency, platform, slug, _ = await _setup(world, client, receiver)
    fid = await _submit(client, agency, slug)
    await client.post(
        f"/v1/flags/{fid}/request-info", json={"question": "?"}, headers=platform.headers
    )
    await client.post(f"/v1/flags/{fid}/info", json={"note": "n"}, headers=agency.headers)
    await client.post(f"/v1/flags/{fid}/withdraw", json={"reason": "r"}, headers=agency.headers)
    receiver.script = [500, 500]  # the first event fails twice; the others must wait
    worker = DeliveryWorker(app.state.sessionmaker, app.state.settings)

    async def all_delivered() -> bool:
        rows = await _deliveries(app)
        return len(rows) == 3 and all(d["status"] == "delivered" for d in rows)

    await _until(all_delivered, worker)
    types = [json.loads(r.body)["type"] for r in receiver.requests]
    assert types == ["flag.created"] * 3 + ["flag.info_provided", "flag.withdrawn"], types


async def test_429_waits_for_retry_after_instead_of_the_back_off(app, world, client, receiver):
    agency, _, slug, _ = await _setup(world, client, receiver)
    await _submit(client, agency, slug)
    receiver.script = [429]  # the receiver sends Retry-After: 1
    await DeliveryWorker(app.state.sessionmaker, app.state.settings).run_once()
    (row,) = await _deliveries(app)
    gap = (row["next_attempt_at"] - row["last_attempt_at"]).total_seconds()
    assert row["last_status_code"] == 429 and 1.0 <= gap <= 2.5, gap
