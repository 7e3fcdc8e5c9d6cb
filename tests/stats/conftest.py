"""Shared cast and helpers of the statistics tests: two agencies, two platforms, an
observer, and direct COUNT(*)s over the flag table to hold the rollups against."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Party, flag_body, party

# The outcome groups and the flag column each reads (day and month of closed_at, UTC).
GROUP_SQL = {
    "country": "f.country",
    "agency": "f.agency_org_id::text",
    "platform": "f.platform",
    "kind": "f.kind",
    "category": "f.category",
    "action": "f.outcome_action",
    "month": "to_char(f.closed_at AT TIME ZONE 'UTC', 'YYYY-MM')",
    "day": "to_char(f.closed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
}

# Statuses of a flag that has a first outcome (a contested one keeps counting with it).
FIRST_OUTCOME = "'closed', 'reconsideration'"


@pytest.fixture
async def cast(world) -> dict[str, Party]:
    observer = await world.credentials("observer", scopes=["stats:read"])
    return {
        "id": await party(world, "agency", country="ID"),
        "au": await party(world, "agency", country="AU"),
        "twitter": await party(world, "platform", platform="twitter"),
        "youtube": await party(world, "platform", platform="youtube"),
        "observer": Party(observer, {"Authorization": f"Bearer {await world.token(observer)}"}),
    }


def today() -> datetime:
    """Now, UTC."""
    return datetime.now(UTC)


def around_today() -> dict[str, str]:
    """A from/to range that holds everything the test does now (even across midnight)."""
    now = today().date()
    return {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(days=2)).isoformat(),
    }


async def submit(client, agency: Party, platform: str, **overrides: Any) -> dict[str, Any]:
    """Submit a flag and return it."""
    resp = await client.post(
        "/v1/flags", json=flag_body(platform, **overrides), headers=agency.headers
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def close(client, platform: Party, flag_id: str, action: str = "account_suspended") -> None:
    """Report an outcome."""
    resp = await client.post(
        f"/v1/flags/{flag_id}/outcome", json={"action": action}, headers=platform.headers
    )
    assert resp.status_code == 200, resp.text


async def direct_counts(app, group_by: list[str], where: str = "TRUE", params=None) -> Counter:
    """COUNT(*) of first outcomes (closed flags, and contested ones in reconsideration)
    grouped like the API groups them, straight from flag."""
    cols = [GROUP_SQL[g] for g in group_by]
    select = ", ".join([*cols, "count(*)"])
    grouping = f" GROUP BY {', '.join(cols)}" if cols else ""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {select} FROM flag f "
                f"WHERE f.status IN ({FIRST_OUTCOME}) AND {where}{grouping}"
            ),
            params or {},
        )
        counts = Counter({tuple(r[:-1]) or ("all",): int(r[-1]) for r in rows})
    return +counts  # no zero entries (an empty table counts 0 without a group)


def api_key(item: dict[str, Any], group_by: list[str]) -> tuple[Any, ...]:
    """The group key of an API row, in the shape direct_counts uses."""
    if not group_by:
        return ("all",)
    return tuple(item[g]["id"] if g == "agency" else item[g] for g in group_by)


async def api_counts(client, observer: Party, group_by: list[str], **params: str) -> Counter:
    """The API's grouped counts as a Counter keyed like direct_counts."""
    query = {"group_by": ",".join(group_by), **(params or around_today())}
    resp = await client.get("/v1/stats/outcomes", params=query, headers=observer.headers)
    assert resp.status_code == 200, resp.text
    body = resp.json()
    counts = Counter({api_key(i, group_by): i["count"] for i in body["items"]})
    assert body["total"] == sum(counts.values())
    return counts


async def rollup_sums(app) -> dict[str, int]:
    """What each rollup table adds up to (with the pending day rows where it needs them)."""
    pending = "(SELECT coalesce(sum(flags), 0) FROM outcome_rollup_day WHERE stripe <> 0)"
    rt_pending = (
        "(SELECT coalesce(sum(flags), 0) FROM response_time_rollup_day "
        "WHERE stripe <> 0 AND measure = 'outcome')"
    )
    queries = {
        "day": "SELECT coalesce(sum(flags), 0) FROM outcome_rollup_day",
        "month": f"SELECT coalesce(sum(flags), 0) + {pending} FROM outcome_rollup_month",
        "narrow_day": f"SELECT coalesce(sum(flags), 0) + {pending} FROM outcome_rollup_narrow_day",
        "narrow_month": (
            f"SELECT coalesce(sum(flags), 0) + {pending} FROM outcome_rollup_narrow_month"
        ),
        "outcome_times": (
            "SELECT coalesce(sum(flags), 0) FROM response_time_rollup_day WHERE measure = 'outcome'"
        ),
        "outcome_times_month": (
            f"SELECT coalesce(sum(flags), 0) + {rt_pending} FROM response_time_rollup_month "
            "WHERE measure = 'outcome'"
        ),
        "outcome_times_month_by": (
            f"SELECT coalesce(sum(flags), 0) + {rt_pending} FROM response_time_rollup_month_by "
            "WHERE measure = 'outcome' AND dimension = 'all'"
        ),
        "acknowledge_times": (
            "SELECT coalesce(sum(flags), 0) FROM response_time_rollup_day "
            "WHERE measure = 'acknowledge'"
        ),
        "withdrawals": "SELECT coalesce(sum(flags), 0) FROM withdrawal_rollup",
        "closed": f"SELECT count(*) FROM flag WHERE status IN ({FIRST_OUTCOME})",
        "acknowledged": "SELECT count(*) FROM flag WHERE acknowledged_at IS NOT NULL",
        "withdrawn": "SELECT count(*) FROM flag WHERE status = 'withdrawn'",
    }
    async with app.state.engine.connect() as conn:
        return {k: int((await conn.execute(text(q))).scalar_one()) for k, q in queries.items()}


def assert_rollups_match(sums: dict[str, int]) -> None:
    """Every table (folded plus pending) equals its direct count."""
    closed = sums["closed"]
    for key in ("day", "month", "narrow_day", "narrow_month", "outcome_times"):
        assert sums[key] == closed, (key, sums)
    assert sums["outcome_times_month"] == sums["outcome_times_month_by"] == closed, sums
    assert sums["acknowledge_times"] == sums["acknowledged"], sums
    assert sums["withdrawals"] == sums["withdrawn"], sums
