"""Liveness, readiness and metrics."""

from __future__ import annotations

from sqlalchemy import text


async def test_healthz_is_ok(client):
    resp = await client.get("/healthz")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok"}


async def test_readyz_reports_schema_head(client, app):
    resp = await client.get("/readyz")
    assert resp.status_code == 200
    assert resp.json()["schema"] == app.state.schema_head


async def test_readyz_is_503_when_schema_is_behind(client, app):
    async with app.state.engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'old'"))
    resp = await client.get("/readyz")
    assert resp.status_code == 503
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert "flagbridge migrate" in resp.json()["detail"]


async def test_readyz_is_503_when_database_is_unreachable(settings):
    from app.main import create_app

    broken = create_app(
        settings, database_url="postgresql+asyncpg://nobody@/nodb?host=/nonexistent"
    )
    # Without a lifespan the engine is never made; build only what readyz needs.
    from app.db import make_engine

    broken.state.engine = make_engine("postgresql+asyncpg://nobody@/nodb?host=/nonexistent")
    broken.state.schema_head = "x"
    import httpx

    transport = httpx.ASGITransport(app=broken, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        resp = await c.get("/readyz")
    await broken.state.engine.dispose()
    assert resp.status_code == 503
    assert resp.json()["detail"] == "Database unreachable"


async def test_metrics_count_requests_by_route_template(world, client):
    headers = await world.admin_headers()
    await client.get("/v1/admin/organizations", headers=headers)
    resp = await client.get("/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    text_body = resp.text
    assert (
        'flagbridge_http_requests_total{method="GET",route="/v1/admin/organizations",status="200"}'
        in text_body
    )
    assert "flagbridge_http_request_duration_seconds_bucket" in text_body


async def test_metrics_count_submissions_and_transitions(world, client):
    from tests.conftest import flag_body, party

    agency = await party(world, "agency")
    platform = await party(world, "platform", platform="twitter")
    flag = (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).json()
    await client.post(f"/v1/flags/{flag['id']}/ack", headers=platform.headers)
    await client.get("/v1/feed", headers=platform.headers)
    body = (await client.get("/metrics")).text
    assert 'flagbridge_flag_submissions_total{result="201"}' in body
    assert 'flagbridge_flag_transitions_total{event="acknowledged"}' in body
    assert 'flagbridge_feed_events_served_total{kind="platform"}' in body
