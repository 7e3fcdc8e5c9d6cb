"""Background maintenance: Idempotency-Key pruning."""

from __future__ import annotations

from sqlalchemy import text

from app.kit import idempotency
from tests.conftest import flag_body, party


async def test_old_idempotency_keys_are_pruned_and_recent_ones_kept(app, world, client):
    agency = await party(world, "agency")
    await party(world, "platform", platform="twitter")
    for key in ("old-1", "old-2", "new-1"):
        resp = await client.post(
            "/v1/flags",
            json=flag_body("twitter"),
            headers={**agency.headers, "Idempotency-Key": key},
        )
        assert resp.status_code == 201
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE idempotency_key SET created_at = now() - interval '25 hours' "
                "WHERE key LIKE 'old-%'"
            )
        )
    async with app.state.sessionmaker() as session, session.begin():
        assert await idempotency.prune(session, retention_hours=24) == 2
    async with app.state.engine.connect() as conn:
        keys = [r[0] for r in await conn.execute(text("SELECT key FROM idempotency_key"))]
    assert keys == ["new-1"]
