"""Liveness and readiness (metrics: test_metrics_listener.py)."""

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
