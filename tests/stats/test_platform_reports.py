"""POST /v1/platform-reports and its read-back: validation, replacement of a period,
overlaps, idempotency, tenancy, audit, and the self-reported statistics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from app.platform_reports.schemas import MAX_ROWS, PlatformReportIn
from tests.conftest import assert_problem

ROWS = [
    {
        "category": "propaganda",
        "action": "account_suspended",
        "count": 41000,
        "source": "own_detection",
    },
    {"category": "recruitment", "action": "account_suspended", "count": 2500, "source": "other"},
    {
        "country": "id",
        "category": "propaganda",
        "action": "content_removed",
        "count": 12,
        "source": "other",
    },
]


def report(start: str = "2026-07-01", end: str = "2026-08-01", rows=None) -> dict[str, Any]:
    return {"period_start": start, "period_end": end, "rows": ROWS if rows is None else rows}


async def post(client, who, body, key: str | None = None):
    headers = dict(who.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await client.post("/v1/platform-reports", json=body, headers=headers)


async def audit_actions(app, object_id: str) -> list[str]:
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text("SELECT action FROM audit_entry WHERE object_id = :o ORDER BY seq"),
            {"o": object_id},
        )
        return [r[0] for r in rows]


async def test_submit_read_back_and_list(app, client, cast):
    resp = await post(client, cast["twitter"], report())
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert resp.headers["location"] == f"/v1/platform-reports/{created['id']}"
    assert created["platform"] == "twitter"
    assert (created["period_start"], created["period_end"]) == ("2026-07-01", "2026-08-01")
    assert created["revision"] == 1
    assert (created["row_count"], created["total"], created["own_detection_total"]) == (
        3,
        43512,
        41000,
    )
    assert created["rows"][2] == {
        "country": "ID",
        "category": "propaganda",
        "action": "content_removed",
        "source": "other",
        "count": 12,
    }
    got = await client.get(f"/v1/platform-reports/{created['id']}", headers=cast["twitter"].headers)
    assert got.json() == created
    await post(client, cast["twitter"], report("2026-08-01", "2026-09-01"))
    page = (
        await client.get("/v1/platform-reports?limit=1", headers=cast["twitter"].headers)
    ).json()
    assert [r["period_start"] for r in page["items"]] == ["2026-08-01"]
    assert "rows" not in page["items"][0]
    page2 = (
        await client.get(
            "/v1/platform-reports",
            params={"limit": 1, "cursor": page["next_cursor"]},
            headers=cast["twitter"].headers,
        )
    ).json()
    assert [r["period_start"] for r in page2["items"]] == ["2026-07-01"]
    assert page2["next_cursor"] is None
    assert await audit_actions(app, created["id"]) == ["platform_report.submitted"]


async def test_resubmitting_a_period_replaces_it(app, client, cast):
    first = (await post(client, cast["twitter"], report())).json()
    rows = [
        {"category": "threat", "action": "account_suspended", "count": 7, "source": "own_detection"}
    ]
    resp = await post(client, cast["twitter"], report(rows=rows))
    assert resp.status_code == 200, resp.text
    second = resp.json()
    assert second["id"] == first["id"]
    assert second["revision"] == 2
    assert second["total"] == 7
    assert [r["category"] for r in second["rows"]] == ["threat"]
    stats = await client.get(
        "/v1/stats/platform-reports",
        params={"from": "2026-01-01", "to": "2027-01-01"},
        headers=cast["observer"].headers,
    )
    assert stats.json()["total"] == 7  # replaced, never added
    assert await audit_actions(app, first["id"]) == [
        "platform_report.submitted",
        "platform_report.replaced",
    ]


async def test_an_overlapping_different_period_is_409(client, cast):
    first = (await post(client, cast["twitter"], report("2026-01-01", "2026-07-01"))).json()
    for start, end in (
        ("2026-03-01", "2026-04-01"),
        ("2025-12-01", "2026-01-02"),
        ("2026-06-30", "2026-08-01"),
        ("2025-12-01", "2026-08-01"),
    ):
        resp = await post(client, cast["twitter"], report(start, end))
        body = assert_problem(resp, 409)
        assert body["existing_report_id"] == first["id"]
    # Adjacent periods do not overlap ([start, end) is half-open), nor do other platforms'.
    for who, start, end in (
        ("twitter", "2025-12-01", "2026-01-01"),
        ("twitter", "2026-07-01", "2026-08-01"),
        ("youtube", "2026-03-01", "2026-04-01"),
    ):
        assert (await post(client, cast[who], report(start, end))).status_code == 201


async def test_validation_names_the_field(client, cast):
    soon = datetime.now(UTC).date() + timedelta(days=3)
    future, after = soon.isoformat(), (soon + timedelta(days=30)).isoformat()
    row = ROWS[0]
    cases = [
        (report("2026-08-01", "2026-08-01"), "period_end"),
        (report("2026-08-01", "2026-07-01"), "period_end"),
        (report("2025-01-01", "2026-01-03"), "period_end"),
        (report("1999-12-01", "2000-01-01"), "period_start"),
        (report(future, after), "period_start"),
        (report("2026-07-01T12:00:00Z", "2026-08-01"), "period_start"),
        (report("July 2026", "2026-08-01"), "period_start"),
        (report(rows=[]), "rows"),
        (report(rows=[{**row, "count": -1}]), "rows.0.count"),
        (report(rows=[{**row, "count": 10**10}]), "rows.0.count"),
        (report(rows=[{**row, "count": "many"}]), "rows.0.count"),
        (report(rows=[{**row, "category": "spam"}]), "rows.0.category"),
        (report(rows=[{**row, "action": "banned"}]), "rows.0.action"),
        (report(rows=[{**row, "source": "government"}]), "rows.0.source"),
        (report(rows=[{**row, "country": "XX"}]), "rows.0.country"),
        (report(rows=[{**row, "country": "IDN"}]), "rows.0.country"),
        (report(rows=[row, {**row, "count": 1}]), "rows.1"),
        (report(rows=[{**row, "platform": "youtube"}]), "rows.0.platform"),
        ({**report(), "platform": "youtube"}, "platform"),
    ]
    for body, field in cases:
        resp = await post(client, cast["twitter"], body)
        problem = assert_problem(resp, 422)
        assert field in [e["field"] for e in problem["errors"]], (field, problem)
    listing = await client.get("/v1/platform-reports", headers=cast["twitter"].headers)
    assert listing.json()["items"] == []


def test_a_report_holds_at_most_max_rows():
    # Checked on the model: over HTTP the test server's 64 KiB body limit (413) comes first.
    rows = [
        {"category": "other", "action": "no_violation", "count": i, "source": "other"}
        for i in range(MAX_ROWS + 1)
    ]
    with pytest.raises(ValidationError) as exc:
        PlatformReportIn.model_validate(report(rows=rows))
    assert [e["loc"] for e in exc.value.errors()] == [("rows",)]
    assert len(PlatformReportIn.model_validate(report(rows=rows[:MAX_ROWS])).rows) == MAX_ROWS


async def test_midnight_utc_timestamps_are_accepted_as_days(client, cast):
    resp = await post(
        client, cast["twitter"], report("2026-07-01T00:00:00Z", "2026-07-31T17:00:00-07:00")
    )
    assert resp.status_code == 201, resp.text
    assert (resp.json()["period_start"], resp.json()["period_end"]) == ("2026-07-01", "2026-08-01")


async def test_idempotency_key_replays_and_refuses_a_different_body(app, client, cast):
    first = await post(client, cast["twitter"], report(), key="r-2026-07")
    again = await post(client, cast["twitter"], report(), key="r-2026-07")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers.get("idempotent-replayed") == "true"
    # Nothing happened the second time: still revision 1, one audit entry.
    got = await client.get(
        f"/v1/platform-reports/{first.json()['id']}", headers=cast["twitter"].headers
    )
    assert got.json()["revision"] == 1
    assert await audit_actions(app, first.json()["id"]) == ["platform_report.submitted"]
    other = await post(client, cast["twitter"], report(rows=ROWS[:1]), key="r-2026-07")
    assert assert_problem(other, 422)["errors"][0]["field"] == "Idempotency-Key"
    # Keys are per client: another platform's identical key is its own.
    mine = await post(client, cast["youtube"], report(), key="r-2026-07")
    assert mine.status_code == 201
    assert mine.json()["platform"] == "youtube"


async def test_only_platforms_submit_and_each_reads_only_its_own(world, client, cast):
    created = (await post(client, cast["twitter"], report())).json()
    operator = await world.admin_headers()
    for who, status in (("id", 403), ("observer", 403)):
        assert_problem(await post(client, cast[who], report()), status)
        assert_problem(await client.get("/v1/platform-reports", headers=cast[who].headers), status)
    assert_problem(await client.post("/v1/platform-reports", json=report(), headers=operator), 403)
    assert_problem(await client.post("/v1/platform-reports", json=report()), 401)
    assert_problem(await client.get("/v1/platform-reports"), 401)
    # Another platform: 404 for the report, and an empty list.
    path = f"/v1/platform-reports/{created['id']}"
    assert_problem(await client.get(path, headers=cast["youtube"].headers), 404)
    listing = await client.get("/v1/platform-reports", headers=cast["youtube"].headers)
    assert listing.json()["items"] == []


async def test_statistics_group_self_reported_totals(client, cast):
    await post(client, cast["twitter"], report("2026-07-01", "2026-08-01"))
    await post(client, cast["twitter"], report("2026-08-01", "2026-09-01", rows=ROWS[:1]))
    await post(client, cast["youtube"], report("2026-07-01", "2026-10-01", rows=ROWS[1:2]))
    observer = cast["observer"].headers

    async def stats(**params: str) -> dict[str, Any]:
        resp = await client.get("/v1/stats/platform-reports", params=params, headers=observer)
        assert resp.status_code == 200, resp.text
        return dict(resp.json())

    body = await stats(**{"from": "2026-07-01", "to": "2026-10-01", "group_by": "platform,source"})
    assert body["self_reported"] is True
    assert "Self-reported" in body["note"]
    assert [(i["platform"], i["source"], i["count"]) for i in body["items"]] == [
        ("twitter", "other", 2512),
        ("twitter", "own_detection", 82000),
        ("youtube", "other", 2500),
    ]
    by_month = await stats(
        **{"from": "2026-07-01", "to": "2026-10-01", "group_by": "month,platform"}
    )
    assert [(i["month"], i["platform"], i["count"]) for i in by_month["items"]] == [
        ("2026-07", "twitter", 43512),
        ("2026-07", "youtube", 2500),
        ("2026-08", "twitter", 41000),
    ]
    by_country = await stats(**{"from": "2026-07-01", "to": "2026-10-01", "group_by": "country"})
    assert [(i["country"], i["count"]) for i in by_country["items"]] == [("ID", 12), (None, 87000)]
    # Only reports whose whole period lies in the range count: YouTube's quarter is out.
    partial = await stats(**{"from": "2026-07-01", "to": "2026-09-01", "group_by": "platform"})
    assert [(i["platform"], i["count"]) for i in partial["items"]] == [("twitter", 84512)]
    assert (await stats(**{"from": "2020-01-01", "to": "2020-02-01"}))["items"] == []
    resp = await client.get(
        "/v1/stats/platform-reports", params={"group_by": "agency"}, headers=observer
    )
    assert assert_problem(resp, 422)["errors"][0]["field"] == "group_by"


async def test_a_period_at_the_edge_of_the_calendar_is_422_not_500(client, cast):
    resp = await post(client, cast["twitter"], report(start="0001-01-01T00:00:00+01:00"))
    assert_problem(resp, 422)
    assert "period_start" in [e["field"] for e in resp.json()["errors"]]
