"""Retention's smaller rules: holds, one run at a time, the schedule and its warning."""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI
from sqlalchemy import text

from app.config import Settings
from app.kit.locks import AdvisoryLock
from app.main import _periodic_jobs, create_app
from app.retention import service as retention
from tests.cli.test_cli import cli
from tests.conftest import party


async def _rows(app, sql: str, **params) -> list:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def test_a_hold_ended_long_ago_loses_its_data(app, client, world):
    holder = await party(world, "agency", country="AU")
    await party(world, "platform", platform="twitter")
    handle, reason, renewal = (
        f"h{uuid.uuid4().hex[:10]}",
        f"r {uuid.uuid4()}",
        f"n {uuid.uuid4()}",
    )
    expires = datetime.now(UTC) + timedelta(days=10)
    body = {
        "platform": "twitter",
        "account": {"handle": handle},
        "reason": reason,
        "expires_at": expires.isoformat(),
    }
    hold = (await client.post("/v1/holds", json=body, headers=holder.headers)).json()
    resp = await client.post(
        f"/v1/holds/{hold['id']}/renew",
        json={"expires_at": (expires + timedelta(days=5)).isoformat(), "reason": renewal},
        headers=holder.headers,
    )
    assert resp.status_code == 200, resp.text
    assert (await client.delete(f"/v1/holds/{hold['id']}", headers=holder.headers)).is_success
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE hold SET created_at = created_at - interval '400 days', "
                "expires_at = expires_at - interval '400 days', "
                "released_at = released_at - interval '400 days' WHERE id = :h"
            ),
            {"h": hold["id"]},
        )

    done = await retention.run(sessionmaker=app.state.sessionmaker, days=365, feed_days=90)

    assert done is not None and done.counts["holds_redacted"] == 1
    shown = (await client.get(f"/v1/holds/{hold['id']}", headers=holder.headers)).json()
    assert shown["reason"] == "[removed]"
    assert shown["account"] == {"id": None, "handle": None, "url": None}
    left = await _rows(
        app,
        "SELECT 1 FROM hold_renewal WHERE reason = :n UNION ALL "
        "SELECT 1 FROM account_key WHERE strpos(key, :h) > 0",
        n=renewal,
        h=handle.lower(),
    )
    assert left == []


async def test_one_run_at_a_time(app):
    async with app.state.engine.connect() as conn, conn.begin():
        await conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": AdvisoryLock.RETENTION})
        busy = await retention.run(sessionmaker=app.state.sessionmaker, days=30, feed_days=90)
    assert busy is None
    assert await retention.run(sessionmaker=app.state.sessionmaker, days=30, feed_days=90)


async def test_servers_run_it_on_schedule_when_a_period_is_set(settings, database_url):
    scheduled = settings.model_copy(update={"retention_days": 30, "retention_sweep_seconds": 0.05})
    application = create_app(scheduled, database_url=database_url)
    async with application.router.lifespan_context(application):
        runs: list = []
        for _ in range(200):
            runs = await _rows(
                application, "SELECT data FROM audit_entry WHERE action = 'retention.run'"
            )
            if runs:
                break
            await asyncio.sleep(0.05)
    assert runs and runs[0][0]["days"] == 30 and runs[0][0]["dry_run"] is False


def _production(**update) -> Settings:
    return Settings(
        env="production",
        database_url="postgresql+asyncpg://fb@db/fb",
        issuer="https://flagbridge.example.org",
        webhook_worker_in_serve=False,
        **update,
    )


def _bare_app() -> FastAPI:
    """An app without a lifespan: no read replica, which the lifespan would have set."""
    app = FastAPI()
    app.state.read_replica = None
    return app


def test_production_without_a_period_warns_loudly(caplog):
    with caplog.at_level(logging.WARNING, logger="app.main"):
        jobs = _periodic_jobs(_bare_app(), _production())
    assert "retention" not in [j.name for j in jobs]
    assert any("RETENTION IS OFF" in r.getMessage() for r in caplog.records)


def test_production_with_a_period_schedules_the_job(caplog):
    with caplog.at_level(logging.WARNING, logger="app.main"):
        jobs = _periodic_jobs(_bare_app(), _production(retention_days=365))
    assert "retention" in [j.name for j in jobs]
    assert not any("RETENTION IS OFF" in r.getMessage() for r in caplog.records)


async def test_cli_refuses_to_guess_a_period(database_url, tmp_path):
    res = await cli(["retention", "run"], database_url=database_url, data_dir=tmp_path)
    assert res.returncode != 0
    assert "FLAGBRIDGE_RETENTION_DAYS" in res.stderr
