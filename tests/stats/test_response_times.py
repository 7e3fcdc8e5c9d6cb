"""Response times: histogram percentiles against values computed from the flags, overdue
counts, and the bucket arithmetic shared by SQL and Python."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from app.stats import percentiles
from app.stats.percentiles import MEDIAN, P90, RELATIVE_ERROR
from tests.conftest import assert_problem
from tests.stats.conftest import close, submit


def exact(values: list[float], p: Fraction) -> float:
    """The nearest-rank percentile of the values."""
    ordered = sorted(values)
    return ordered[percentiles.nearest_rank(len(ordered), p) - 1]


def close_enough(estimate: float, true: float) -> bool:
    """Within the documented bound (and the 0.1 s rounding)."""
    bound = 1.0 if true < 1 else RELATIVE_ERROR * true
    return abs(estimate - true) <= bound + 0.05


async def set_times(app, flag_id: str, opened: datetime, ack: float | None, done: float | None):
    """Give a flag chosen response times (seconds after opened_at)."""
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE flag SET submitted_at = :o, opened_at = :o, "
                "acknowledged_at = CASE WHEN acknowledged_at IS NULL THEN NULL "
                "  ELSE CAST(:o AS timestamptz) + make_interval(secs => :a) END, "
                "closed_at = CASE WHEN closed_at IS NULL THEN NULL "
                "  ELSE CAST(:o AS timestamptz) + make_interval(secs => :c) END "
                "WHERE id = :id"
            ),
            {"o": opened, "a": ack or 0.0, "c": done or 0.0, "id": flag_id},
        )


async def durations(app, group: str) -> dict[str, dict[str, list[float]]]:
    """Exact durations from the flag table, per group value and measure."""
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                f"SELECT {group}, extract(epoch FROM acknowledged_at - opened_at), "
                "CASE WHEN status = 'closed' THEN extract(epoch FROM closed_at - opened_at) END "
                "FROM flag WHERE acknowledged_at IS NOT NULL"
            )
        )
        out: dict[str, dict[str, list[float]]] = {}
        for key, ack, done in rows:
            per = out.setdefault(key, {"acknowledge": [], "outcome": []})
            per["acknowledge"].append(float(ack))
            if done is not None:
                per["outcome"].append(float(done))
        return out


async def test_percentiles_match_values_computed_from_the_flags(app, client, cast):
    rng = random.Random(5)
    opened = datetime.now(UTC) - timedelta(days=3)
    for i in range(40):
        platform = "twitter" if i % 2 else "youtube"
        priority = "urgent" if i % 3 == 0 else "standard"
        flag = await submit(client, cast["id"], platform, priority=priority)
        ack = rng.uniform(0.2, 7200)  # under a second up to two hours
        done = ack + rng.uniform(30, 86400)
        resp = await client.post(f"/v1/flags/{flag['id']}/ack", headers=cast[platform].headers)
        assert resp.status_code == 200
        if i % 5:  # most get an outcome; some stay acknowledged
            await close(client, cast[platform], flag["id"])
        await set_times(app, flag["id"], opened, ack, done)
    params = {
        "from": (opened.date() - timedelta(days=1)).isoformat(),
        "to": (datetime.now(UTC).date() + timedelta(days=1)).isoformat(),
    }
    for group in ("platform", "priority"):
        resp = await client.get(
            "/v1/stats/response-times",
            params={**params, "group_by": group},
            headers=cast["observer"].headers,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["relative_error"] == round(RELATIVE_ERROR, 4)
        truth = await durations(app, group)
        assert {i[group] for i in body["items"]} == set(truth)
        for item in body["items"]:
            for measure in ("acknowledge", "outcome"):
                values = truth[item[group]][measure]
                got = item[measure]
                assert got["count"] == len(values)
                for name, p in (("median_seconds", MEDIAN), ("p90_seconds", P90)):
                    true = exact(values, p)
                    assert close_enough(got[name], true), (group, measure, name, got, true)


async def test_response_times_without_responses_are_empty_and_null(client, cast):
    resp = await client.get(
        "/v1/stats/response-times",
        params={"group_by": "platform"},
        headers=cast["observer"].headers,
    )
    assert resp.status_code == 200
    assert resp.json()["items"] == []
    flag = await submit(client, cast["id"], "twitter")
    await client.post(f"/v1/flags/{flag['id']}/ack", headers=cast["twitter"].headers)
    items = (
        await client.get(
            "/v1/stats/response-times",
            params={"group_by": "platform"},
            headers=cast["observer"].headers,
        )
    ).json()["items"]
    assert items[0]["acknowledge"]["count"] == 1
    assert items[0]["outcome"] == {"count": 0, "median_seconds": None, "p90_seconds": None}


async def test_overdue_counts_live_flags_past_due_with_a_running_clock(app, client, cast):
    late = []
    for platform, priority in (
        ("twitter", "urgent"),
        ("twitter", "standard"),
        ("youtube", "urgent"),
    ):
        late.append(await submit(client, cast["id"], platform, priority=priority))
    asked = await submit(client, cast["id"], "twitter", priority="urgent")
    await client.post(
        f"/v1/flags/{asked['id']}/request-info",
        json={"question": "?"},
        headers=cast["twitter"].headers,
    )
    done = await submit(client, cast["au"], "twitter", priority="urgent")
    await close(client, cast["twitter"], done["id"])
    await submit(client, cast["au"], "youtube")  # on time
    await client.post(f"/v1/flags/{late[1]['id']}/ack", headers=cast["twitter"].headers)
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text("UPDATE flag SET due_at = now() - interval '1 minute' WHERE id = ANY(:ids)"),
            {"ids": [f["id"] for f in (*late, asked, done)]},
        )
    by = {}
    for group in ("platform", "priority", ""):
        resp = await client.get(
            "/v1/stats/response-times", params={"group_by": group}, headers=cast["observer"].headers
        )
        assert resp.status_code == 200, resp.text
        by[group] = {i.get(group): i["overdue"] for i in resp.json()["items"]}
    # The question pauses the clock; the closed flag is answered.
    assert by["platform"] == {"twitter": 2, "youtube": 1}
    assert by["priority"] == {"urgent": 2, "standard": 1}
    assert by[""] == {None: 3}
    platforms = (await client.get("/v1/stats/platforms", headers=cast["observer"].headers)).json()
    assert {p["platform"]: p["overdue"] for p in platforms["items"]} == {"twitter": 2, "youtube": 1}


async def test_invalid_response_time_grouping_is_422(client, cast):
    resp = await client.get(
        "/v1/stats/response-times", params={"group_by": "country"}, headers=cast["observer"].headers
    )
    assert assert_problem(resp, 422)["errors"][0]["field"] == "group_by"


async def test_sql_and_python_put_durations_in_the_same_bucket(app):
    values = [0, 0.5, 0.999, 1, 1.5, 2, 59.9, 60, 3600, 86400, 1e7, 1e12]
    values += [2 ** (b / 8) * 1.0001 for b in range(0, 240, 7)]
    async with app.state.engine.connect() as conn:
        for v in values:
            sql = (await conn.execute(text("SELECT fb_stats_bucket(:v)"), {"v": v})).scalar_one()
            assert sql == percentiles.bucket_of(v), v
            low, high = percentiles.bucket_bounds(sql)
            assert low <= v < high or sql == percentiles.MAX_BUCKET, v


@given(
    st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=1, max_size=300),
    st.sampled_from([MEDIAN, P90, Fraction(1, 100), Fraction(99, 100), Fraction(1)]),
)
def test_histogram_percentile_is_within_the_documented_bound(values, p):
    histogram: dict[int, int] = {}
    for v in values:
        b = percentiles.bucket_of(v)
        histogram[b] = histogram.get(b, 0) + 1
    estimate = percentiles.percentile(histogram, p)
    assert estimate is not None
    assert close_enough(estimate, exact(values, p))


def test_nearest_rank_uses_exact_arithmetic():
    # 0.9 * 70 is 63.00000000000001 in floating point; the rank must still be 63.
    assert percentiles.nearest_rank(70, P90) == 63
    assert percentiles.nearest_rank(1, MEDIAN) == 1
    assert percentiles.nearest_rank(10, MEDIAN) == 5
    assert percentiles.percentile({}, MEDIAN) is None
    assert math.isclose(percentiles.RELATIVE_ERROR, 0.0905, abs_tol=1e-4)
