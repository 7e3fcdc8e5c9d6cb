"""A deadlock or a serialization failure is 503 with Retry-After, never 500.

PostgreSQL rolls the losing transaction back, so the same request succeeds when retried
(with its Idempotency-Key it creates nothing twice): that is what 503 + Retry-After says.
"""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from app.errors import database_unavailable, unavailable


async def _deadlock(dsn: str) -> BaseException:
    """Provoke a real deadlock between two sessions and return the loser's error."""
    setup = await asyncpg.connect(dsn)
    await setup.execute("CREATE TABLE deadlock_probe (id int PRIMARY KEY); "
                        "INSERT INTO deadlock_probe VALUES (1), (2)")  # fmt: skip
    await setup.close()
    one, two = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        await one.execute("BEGIN; SELECT 1 FROM deadlock_probe WHERE id = 1 FOR UPDATE")
        await two.execute("BEGIN; SELECT 1 FROM deadlock_probe WHERE id = 2 FOR UPDATE")
        first = asyncio.create_task(
            one.execute("SELECT 1 FROM deadlock_probe WHERE id = 2 FOR UPDATE")
        )
        second = asyncio.create_task(
            two.execute("SELECT 1 FROM deadlock_probe WHERE id = 1 FOR UPDATE")
        )
        results = await asyncio.gather(first, second, return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        assert len(errors) == 1, results
        return errors[0]
    finally:
        await one.close()
        await two.close()


async def test_a_deadlock_is_a_503_with_retry_after(database_url: str) -> None:
    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    error = await _deadlock(dsn)
    assert isinstance(error, asyncpg.DeadlockDetectedError)
    assert database_unavailable(error)
    refusal = unavailable()
    assert refusal.status == 503 and "Retry-After" in refusal.headers


@pytest.mark.parametrize("sqlstate", ["40001", "40P01"])
def test_retryable_sqlstates_are_unavailable(sqlstate: str) -> None:
    class Wrapped(Exception):
        pass

    error = Wrapped("from the driver")
    error.sqlstate = sqlstate  # type: ignore[attr-defined]
    assert database_unavailable(error)


def test_a_constraint_violation_is_not_unavailable() -> None:
    error = asyncpg.UniqueViolationError("duplicate key")
    assert not database_unavailable(error)
