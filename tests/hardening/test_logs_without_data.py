"""Database errors are logged without the data of the request that caused them.

Two errors carry a request's data: a CHECK constraint that refuses a flag makes PostgreSQL
answer `DETAIL: Failing row contains (...)`, the whole row with the account's handle and
the evidence URL (on the group-commit pool of single submissions); and a backend terminated
in the middle of a batch fails a statement whose parameters are the whole batch (on the
request's session). Each must be logged, and no log line or traceback may carry the values.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import text

from app.observability import JsonFormatter
from tests.conftest import World, assert_problem, flag_body, party

_TERMINATE_ON_INSERT = (
    """CREATE FUNCTION test_terminate_self() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_terminate_backend(pg_backend_pid());
        PERFORM pg_sleep(5);
        RETURN NEW;
    END $$""",
    """CREATE TRIGGER test_terminate_self BEFORE INSERT ON flag
    FOR EACH ROW EXECUTE FUNCTION test_terminate_self()""",
)


@pytest_asyncio.fixture
async def raw_client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client without the contract check: these requests end in an undocumented 500."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def test_database_errors_are_logged_without_handles_or_evidence_urls(
    app: Any, client: httpx.AsyncClient, raw_client: httpx.AsyncClient, caplog: Any
) -> None:
    world = World(app, client)
    agency = await party(world, "agency")
    await party(world, "platform", platform="twitter")
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("ALTER TABLE flag ADD CONSTRAINT refuse_all CHECK (false) NOT VALID")
        )
    marker = uuid.uuid4().hex[:10]
    handle = f"h{marker}"
    evidence = f"https://evidence.example.gov/{marker}/capture.png"
    body = flag_body("twitter", handle, evidence=[{"url": evidence}])

    caplog.set_level(logging.INFO)
    single = await raw_client.post("/v1/flags", json=body, headers=agency.headers)
    assert_problem(single, 500)

    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE flag DROP CONSTRAINT refuse_all"))
        for statement in _TERMINATE_ON_INSERT:
            await conn.execute(text(statement))
    batch = await raw_client.post("/v1/flags/batch", json={"flags": [body]}, headers=agency.headers)
    assert_problem(batch, 503)

    # The failures were logged ...
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and "CheckViolation" in caplog.text, caplog.text
    assert any("database unavailable" in r.getMessage() for r in caplog.records), caplog.text
    formatter = JsonFormatter()
    as_json = "\n".join(formatter.format(r) for r in caplog.records)
    for logged in (caplog.text, as_json):  # ... but not the data that caused them
        assert marker not in logged
        assert "Failing row contains" not in logged


@pytest.mark.parametrize("attribute", ["hide_parameters"])
async def test_the_engine_hides_statement_parameters(app: Any, attribute: str) -> None:
    assert getattr(app.state.engine.sync_engine, attribute) is True
