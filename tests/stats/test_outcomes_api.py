"""GET /v1/stats/outcomes and its CSV twin: groupings, ranges, empty results, bad input."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from app.stats import service as stats
from tests.conftest import assert_problem
from tests.stats.conftest import api_counts, close, direct_counts, submit

COMBINATIONS = [
    [],
    ["country"],
    ["agency"],
    ["platform", "month"],
    ["kind", "category", "action"],
    ["day", "platform"],
    ["country", "agency", "platform", "kind", "category", "action", "month", "day"],
]


async def backdate(app, flag_id: str, closed_at: datetime) -> None:
    """Move a closed flag's outcome to another time (the rollup trigger follows)."""
    async with app.state.engine.begin() as conn:
        await conn.execute(
            text(
                "UPDATE flag SET submitted_at = CAST(:t AS timestamptz) - interval '3 hours', "
                "opened_at = CAST(:t AS timestamptz) - interval '3 hours', "
                "acknowledged_at = CAST(:t AS timestamptz) - interval '1 hour', "
                "closed_at = :t WHERE id = :id"
            ),
            {"t": closed_at, "id": flag_id},
        )


@pytest.fixture
async def history(app, client, cast):
    """Closed flags on chosen days across month edges, and some not closed."""
    days = {
        "2026-01-15T10:00:00Z": ("id", "twitter", "propaganda", "account_suspended"),
        "2026-01-31T23:59:59Z": ("au", "twitter", "recruitment", "no_violation"),
        "2026-02-01T00:00:00Z": ("id", "youtube", "propaganda", "account_suspended"),
        "2026-02-28T12:00:00Z": ("id", "twitter", "threat", "content_removed"),
        "2026-03-31T08:00:00Z": ("au", "youtube", "propaganda", "account_suspended"),
        "2026-04-01T00:00:01Z": ("id", "twitter", "propaganda", "account_suspended"),
    }
    for when, (agency, platform, category, action) in days.items():
        flag = await submit(client, cast[agency], platform, category=category)
        await close(client, cast[platform], flag["id"], action)
        await backdate(app, flag["id"], datetime.fromisoformat(when.replace("Z", "+00:00")))
    # Live and withdrawn flags never count.
    await submit(client, cast["id"], "twitter")
    gone = await submit(client, cast["au"], "twitter")
    resp = await client.post(
        f"/v1/flags/{gone['id']}/withdraw", json={"reason": "x"}, headers=cast["au"].headers
    )
    assert resp.status_code == 200
    return days


async def test_every_grouping_equals_a_direct_count(app, client, cast, history):
    # Before the fold every count is a pending day row; after it, months and the narrow
    # tables answer. Both must give the direct count.
    for folded in (False, True):
        if folded:
            assert await stats.fold_stripes(sessionmaker=app.state.sessionmaker) > 0
        for group_by in COMBINATIONS:
            got = await api_counts(
                client, cast["observer"], group_by, **{"from": "2026-01-01", "to": "2026-05-01"}
            )
            assert got == await direct_counts(app, group_by), (folded, group_by)
            assert sum(got.values()) == len(history)


RANGES = [
    # Whole months only (month grain).
    ("2026-01-01", "2026-03-01", 4),
    # Ragged at both ends: days of January and April around whole Feb and March.
    ("2026-01-16", "2026-04-02", 5),
    # Inside one month (day grain only).
    ("2026-02-01", "2026-02-28", 1),
    # `to` is exclusive: 2026-02-01T00:00:00Z belongs to the day 2026-02-01.
    ("2026-01-31", "2026-02-01", 1),
    # A single day, given as RFC 3339 midnights.
    ("2026-04-01T00:00:00Z", "2026-04-02T00:00:00+00:00", 1),
    ("2025-01-01", "2026-01-01", 0),
]


async def test_ranges_count_the_utc_days_of_closed_at(app, client, cast, history):
    await stats.fold_stripes(sessionmaker=app.state.sessionmaker)
    # One more outcome after the fold: pending, in the current month.
    flag = await submit(client, cast["id"], "twitter")
    await close(client, cast["twitter"], flag["id"])
    today = datetime.now(UTC).date()
    ranges = [
        *RANGES,
        (today.replace(day=1).isoformat(), (today + timedelta(days=1)).isoformat(), 1),
        ("2026-01-01", "2030-01-01", len(history) + 1),
    ]
    for date_from, date_to, expected in ranges:
        resp = await client.get(
            "/v1/stats/outcomes",
            params={"from": date_from, "to": date_to},
            headers=cast["observer"].headers,
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["total"] == expected, (date_from, date_to)
        lo = date_from[:10]
        hi = date_to[:10]
        direct = await direct_counts(
            app,
            [],
            "(f.closed_at AT TIME ZONE 'UTC')::date >= :lo "
            "AND (f.closed_at AT TIME ZONE 'UTC')::date < :hi",
            {"lo": datetime.fromisoformat(lo).date(), "hi": datetime.fromisoformat(hi).date()},
        )
        assert body["total"] == sum(direct.values())
        assert (body["from"], body["to"]) == (lo, hi)


async def test_month_and_day_keys_are_formatted_and_ordered(client, cast, history):
    resp = await client.get(
        "/v1/stats/outcomes",
        params=[
            ("from", "2026-01-01"),
            ("to", "2026-05-01"),
            ("group_by", "month"),
            ("group_by", "platform"),
        ],
        headers=cast["observer"].headers,
    )
    assert resp.status_code == 200, resp.text
    items = resp.json()["items"]
    assert [(i["month"], i["platform"], i["count"]) for i in items] == [
        ("2026-01", "twitter", 2),
        ("2026-02", "twitter", 1),
        ("2026-02", "youtube", 1),
        ("2026-03", "youtube", 1),
        ("2026-04", "twitter", 1),
    ]
    assert resp.json()["group_by"] == ["month", "platform"]
    resp = await client.get(
        "/v1/stats/outcomes",
        params={"from": "2026-02-01", "to": "2026-03-01", "group_by": "day"},
        headers=cast["observer"].headers,
    )
    assert [(i["day"], i["count"]) for i in resp.json()["items"]] == [
        ("2026-02-01", 1),
        ("2026-02-28", 1),
    ]


async def test_agency_groups_carry_id_and_name(world, client, cast, history):
    resp = await client.get(
        "/v1/stats/outcomes",
        params={"from": "2026-01-01", "to": "2026-05-01", "group_by": "agency"},
        headers=cast["observer"].headers,
    )
    orgs = {
        o["id"]: o["name"]
        for o in (
            await client.get("/v1/admin/organizations", headers=await world.admin_headers())
        ).json()["items"]
    }
    items = resp.json()["items"]
    assert {i["agency"]["id"]: i["count"] for i in items} == {
        cast["id"].org_id: 4,
        cast["au"].org_id: 2,
    }
    for item in items:
        assert item["agency"]["name"] == orgs[item["agency"]["id"]]
        assert set(item) == {"agency", "count", "contested", "overturned"}


async def test_action_filter_keeps_only_those_outcomes(client, cast, history):
    resp = await client.get(
        "/v1/stats/outcomes",
        params={
            "from": "2026-01-01",
            "to": "2026-05-01",
            "group_by": "action",
            "action": "account_suspended,content_removed",
        },
        headers=cast["observer"].headers,
    )
    assert resp.status_code == 200, resp.text
    assert {i["action"]: i["count"] for i in resp.json()["items"]} == {
        "account_suspended": 4,
        "content_removed": 1,
    }


async def test_empty_results(client, cast):
    # Nothing closed at all, and a range with nothing in it.
    await submit(client, cast["id"], "twitter")
    for params in ({"group_by": "country,month"}, {"from": "2020-01-01", "to": "2020-02-01"}):
        resp = await client.get(
            "/v1/stats/outcomes", params=params, headers=cast["observer"].headers
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["items"] == []
        assert resp.json()["total"] == 0


async def test_default_range_is_the_last_twelve_calendar_months(client, cast):
    resp = await client.get("/v1/stats/outcomes", headers=cast["observer"].headers)
    body = resp.json()
    today = datetime.now(UTC).date()
    assert body["to"] == (today + timedelta(days=1)).isoformat()
    start = datetime.fromisoformat(body["from"]).date()
    assert start.day == 1
    assert (today.year * 12 + today.month) - (start.year * 12 + start.month) == 11


INVALID = [
    ({"group_by": "country,flavour"}, "group_by"),
    ({"group_by": "status"}, "group_by"),
    ({"action": "banned"}, "action"),
    ({"from": "yesterday"}, "from"),
    ({"from": "2026-02-30"}, "from"),
    ({"to": "2026-01-01T12:00:00Z"}, "to"),
    ({"to": "2026-01-01T00:00:00+07:00"}, "to"),
    ({"from": "2026-01-01T00:00:00"}, "from"),
    ({"from": "2026-03-01", "to": "2026-03-01"}, "to"),
    ({"from": "2026-03-01", "to": "2026-02-01"}, "to"),
    ({"from": "2000-01-01", "to": "2026-01-01"}, "to"),
    ({"from": "2025-01-01", "to": "2026-03-01", "group_by": "day"}, "group_by"),
]


async def test_invalid_input_is_422_naming_the_field(client, cast):
    for params, field in INVALID:
        for path in ("/v1/stats/outcomes", "/v1/stats/outcomes.csv"):
            resp = await client.get(path, params=params, headers=cast["observer"].headers)
            body = assert_problem(resp, 422)
            assert [e["field"] for e in body["errors"]] == [field], (params, body)


async def test_csv_has_a_header_the_same_rows_and_a_filename(client, cast, history):
    params = {"from": "2026-01-01", "to": "2026-05-01", "group_by": "agency,month,action"}
    as_json = (
        await client.get("/v1/stats/outcomes", params=params, headers=cast["observer"].headers)
    ).json()
    resp = await client.get(
        "/v1/stats/outcomes.csv", params=params, headers=cast["observer"].headers
    )
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == "text/csv; charset=utf-8"
    assert resp.headers["content-disposition"] == (
        'attachment; filename="flagbridge-outcomes_2026-01-01_2026-05-01.csv"'
    )
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8"))))
    assert rows[0] == ["agency_id", "agency_name", "month", "action", "count"]
    assert rows[1:] == [
        [i["agency"]["id"], i["agency"]["name"], i["month"], i["action"], str(i["count"])]
        for i in as_json["items"]
    ]
    assert resp.text.endswith("\r\n")


async def test_csv_of_nothing_is_just_the_header(client, cast):
    resp = await client.get(
        "/v1/stats/outcomes.csv",
        params={"from": "2020-01-01", "to": "2020-02-01", "group_by": "country"},
        headers=cast["observer"].headers,
    )
    assert resp.text == "country,count\r\n"


async def test_csv_cells_cannot_become_spreadsheet_formulas(world, client, cast):
    agency = await world.credentials("agency", country="SG", name='=HYPERLINK("x")')
    token = await world.token(agency)
    headers = {"Authorization": f"Bearer {token}"}
    resp = await client.post(
        "/v1/flags",
        json={
            "platform": "twitter",
            "account": {"handle": "csv_case"},
            "category": "other",
            "legal_basis": "b",
            "summary": "s",
            "evidence": [{"url": "https://e.example/1"}],
        },
        headers=headers,
    )
    await close(client, cast["twitter"], resp.json()["id"])
    resp = await client.get(
        "/v1/stats/outcomes.csv", params={"group_by": "agency"}, headers=cast["observer"].headers
    )
    rows = list(csv.reader(io.StringIO(resp.text)))
    assert rows[1][1] == '\'=HYPERLINK("x")'


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"to": "0001-01-01"}, "to"),
        ({"from": "9999-12-01", "to": "9999-12-31"}, "from"),
        ({"from": "0001-01-01T00:00:00+01:00", "to": "2026-01-01"}, "from"),
        ({"to": "9999-12-31T23:00:00-01:00"}, "to"),
    ],
)
@pytest.mark.parametrize(
    "path",
    [
        "/v1/stats/outcomes",
        "/v1/stats/outcomes.csv",
        "/v1/stats/response-times",
        "/v1/stats/platform-reports",
    ],
)
async def test_dates_at_the_edges_of_the_calendar_are_422_not_500(
    client, cast, path, params, field
):
    resp = await client.get(path, params=params, headers=cast["observer"].headers)
    assert_problem(resp, 422)
    assert field in [e["field"] for e in resp.json()["errors"]]
