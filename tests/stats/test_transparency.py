"""GET /transparency and /transparency.json: public, air-gapped, suppressed, always renders,
and showing published reports only."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.stats.public_endpoints import CONTENT_SECURITY_POLICY
from tests.conftest import assert_problem, flag_body, party
from tests.stats.transparency_helpers import (
    page_text,
    publish_now,
    report_totals,
    seed_outcomes,
    small_numbers_in_json,
    small_numbers_in_page,
)

# Small counts on purpose: Brunei has one suspension, Malaysia three, VidTube two, and
# two actions are rare. Every one of them must come out as "<5" and none may be
# recoverable from a total.
PLAN = {
    ("ID", "chirp", "account_suspended"): 9,
    ("ID", "facepage", "account_suspended"): 6,
    ("ID", "chirp", "content_removed"): 5,
    ("MY", "chirp", "account_suspended"): 3,
    ("BN", "facepage", "account_suspended"): 1,
    ("AU", "chirp", "account_suspended"): 7,
    ("AU", "vidtube", "account_suspended"): 2,
    ("AU", "facepage", "no_violation"): 2,
    ("SG", "chirp", "account_restricted"): 1,
}


def last_month() -> tuple[str, str]:
    """First day of last month and of this month (a finished reporting period)."""
    today = datetime.now(UTC).date()
    this = today.replace(day=1)
    previous = (this - timedelta(days=1)).replace(day=1)
    return previous.isoformat(), this.isoformat()


@pytest.fixture
async def seeded(world, client) -> None:
    parties = await seed_outcomes(world, client, PLAN)
    start, end = last_month()
    # Chirp's own detection is small on purpose: 3 + 250 = 253 must not give the 3 back.
    await report_totals(
        client, parties["chirp"], period_start=start, period_end=end, own_detection=3,
        other=250, removed=4000,
    )  # fmt: skip
    await report_totals(
        client, parties["facepage"], period_start=start, period_end=end, own_detection=1200,
        other=40,
    )  # fmt: skip
    await publish_now(world)


async def latest(client) -> dict[str, Any]:
    """The newest published report, as /transparency.json shows it."""
    resp = await client.get("/transparency.json")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["latest"])


def assert_public_headers(resp: Any) -> None:
    assert resp.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in resp.headers["content-security-policy"]
    assert resp.headers["cache-control"] == "public, max-age=60"
    assert resp.headers["x-content-type-options"] == "nosniff"


def assert_self_contained(html: str) -> None:
    """Nothing on the page points anywhere but here: it must work air-gapped."""
    assert "<script" not in html.lower()
    assert "http://" not in html and "https://" not in html
    for link in page_text(html).links:
        assert link.startswith(("/", "#", "data:")), link
    assert "@import" not in html and "url(http" not in html


async def test_fresh_install_renders_a_sensible_empty_page(client):
    resp = await client.get("/transparency")
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/html")
    assert_public_headers(resp)
    assert_self_contained(resp.text)
    assert "No report has been published yet" in resp.text
    assert "How the figures are counted" in resp.text
    data = (await client.get("/transparency.json")).json()
    assert data == {"schema": "flagbridge.transparency-index.v1", "reports": [], "latest": None}
    assert small_numbers_in_page(resp.text) == []


async def test_a_published_period_without_answers_shows_zeros(world, client):
    agency = await party(world, "agency", country="ID")
    await party(world, "platform", platform="chirp")
    resp = await client.post("/v1/flags", json=flag_body("chirp"), headers=agency.headers)
    assert resp.status_code == 201, resp.text  # open, never answered: nothing to count
    name = await publish_now(world)
    data = await latest(client)
    assert data["period"]["id"] == name
    assert data["totals"] == {
        "flags_answered": 0,
        "suspensions": 0,
        "self_reported_suspensions": 0,
        "contested": 0,
        "overturned": 0,
    }
    assert data["suspensions_by_country"] == []
    assert len(data["suspensions_by_month"]["months"]) == 6
    html = (await client.get("/transparency")).text
    assert "No data for this period" in html
    assert small_numbers_in_page(html) == []


async def test_page_needs_no_token_and_shows_countries_by_name(client, seeded):
    resp = await client.get("/transparency")
    assert resp.status_code == 200, resp.text
    html = resp.text
    for name in ("Indonesia", "Australia", "Malaysia", "Brunei Darussalam", "Chirp", "FacePage"):
        assert name in html
    # Every chart has its title, description, a table behind it, and data marks: the
    # report's six and the trend across published periods.
    parsed = page_text(html)
    assert html.count('role="img"') == 7
    assert html.count("<details>") == 7
    assert len(parsed.data_values) > 10
    assert "self-reported by platforms" in html
    assert_self_contained(html)


async def test_no_count_under_five_appears_on_the_page_or_in_the_json(client, seeded):
    html = (await client.get("/transparency")).text
    index = (await client.get("/transparency.json")).json()
    assert small_numbers_in_page(html) == []
    assert small_numbers_in_json(index) == []
    data = index["latest"]
    # The small counts are there, as markers.
    countries = {r["country"]: r["count"] for r in data["suspensions_by_country"]}
    assert countries["ID"] == 15
    assert countries["BN"] == "<5" and countries["MY"] == "<5"
    actions = {r["action"]: r["count"] for r in data["outcomes_by_action"]}
    assert actions["no_violation"] == "<5" and actions["account_restricted"] == "<5"
    assert actions["content_removed"] == 5
    assert "&lt;5" in html


async def test_totals_cannot_give_back_a_suppressed_cell(client, seeded):
    data = await latest(client)
    total = data["totals"]["suspensions"]
    countries = [r["count"] for r in data["suspensions_by_country"]]
    platforms = [r["count"] for r in data["suspensions_by_platform"]]
    for cells in (countries, platforms):
        hidden = [c for c in cells if isinstance(c, str)]
        # Either the total is hidden too, or at least two cells are hidden and one of
        # them is not a "<5" alone (else total - visible = the hidden one).
        if isinstance(total, int) and hidden:
            assert len(hidden) >= 2, cells
    by_action = {r["action"]: r["count"] for r in data["outcomes_by_action"]}
    answered = data["totals"]["flags_answered"]
    hidden_actions = [c for c in by_action.values() if isinstance(c, str)]
    if isinstance(answered, int):
        assert len(hidden_actions) != 1
    # Suspensions are 28 in all: ID 15, AU 9, MY 3, BN 1 -> MY and BN hidden, the rest
    # exact (Singapore flagged, but nothing was suspended: 0 is shown as 0).
    assert total == 28
    assert sorted(map(str, countries)) == ["0", "15", "9", "<5", "<5"]
    # VidTube's 2 would follow from 28 - 19 - 7: FacePage's 7 is withheld, and so is its
    # month (which would give the platform total straight back).
    assert platforms == [19, "<5", "withheld"] or platforms == [19, "withheld", "<5"]
    # Self-reported: 253 = 3 + 250 would give the 3 back.
    reports = {r["platform"]: r for r in data["platform_reports"]}
    chirp = reports["chirp"]
    assert chirp["self_reported_own_detection"] == "<5"
    assert "withheld" in (chirp["self_reported_other"], chirp["self_reported_total"])
    assert reports["facepage"]["self_reported_total"] == 1240
    # Content removals the platforms reported are not suspensions.
    assert data["totals"]["self_reported_suspensions"] in (1493, "withheld")


async def test_json_follows_its_schema(client, seeded):
    resp = await client.get("/transparency.json")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/json")
    assert_public_headers(resp)
    index = resp.json()
    assert [(r["period"]["id"], r["revision"]) for r in index["reports"]] == [
        (index["latest"]["period"]["id"], 1)
    ]
    data = index["latest"]
    assert data["schema"] == "flagbridge.transparency.v2"
    assert set(data) == {
        "schema",
        "revision",
        "generated_at",
        "period",
        "suppression",
        "totals",
        "suspensions_by_country",
        "suspensions_by_platform",
        "suspensions_by_month",
        "outcomes_by_action",
        "platform_reports",
        "response_times",
    }
    assert datetime.fromisoformat(data["generated_at"]).tzinfo is not None
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z", data["generated_at"])
    assert data["suppression"]["primary"] == "<5"
    now = datetime.now(UTC)
    half = 1 + (now.month - 1) // 6
    assert data["period"]["id"] == f"{now.year}-H{half}"
    assert data["period"]["from"] == f"{now.year}-{6 * half - 5:02d}"
    assert data["period"]["to"] == f"{now.year}-{6 * half:02d}"
    months = data["suspensions_by_month"]["months"]
    assert len(months) == 6
    slugs = [p["platform"] for p in data["suspensions_by_month"]["platforms"]]
    assert set(slugs) == {"chirp", "facepage", "vidtube"}
    assert all(set(m["counts"]) == set(slugs) for m in months)
    this_month = next(m["counts"] for m in months if m["month"] == f"{now:%Y-%m}")
    assert this_month == {"chirp": 19, "facepage": "withheld", "vidtube": "<5"}
    assert {r["action"] for r in data["outcomes_by_action"]} == {
        "account_suspended",
        "content_removed",
        "account_restricted",
        "no_violation",
        "account_not_found",
        "insufficient_information",
        "account_withheld_in_country",
    }
    for row in data["response_times"]:
        assert set(row) == {"platform", "name", "acknowledge", "outcome"}
        for step in ("acknowledge", "outcome"):
            timing = row[step]
            if not isinstance(timing["flags"], int) or timing["flags"] < 5:
                assert timing["median_seconds"] is None and timing["p90_seconds"] is None


async def test_openapi_documents_the_public_json(client):
    spec = (await client.get("/openapi.json")).json()
    op = spec["paths"]["/transparency.json"]["get"]
    assert "security" not in op
    schema = op["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("/TransparencyIndex")
    assert "/transparency" in spec["paths"]
    report = spec["paths"]["/transparency/reports/{period}.json"]["get"]
    assert "security" not in report
    assert {"200", "304", "404", "422"} <= set(report["responses"])


@pytest.mark.parametrize(
    "query", ["from=2024-01", "to=2024-06", "year=2024", "from=2024-01&to=2024-06"]
)
async def test_free_periods_are_refused(client, seeded, query):
    """The public cannot choose a range: every figure comes from one published period."""
    for path in ("/transparency", "/transparency.json"):
        problem = assert_problem(await client.get(f"{path}?{query}"), 422)
        assert problem["errors"][0]["field"] in ("from", "to", "year")


async def test_the_page_shows_a_published_period_and_nothing_else(client, seeded):
    data = await latest(client)
    name = data["period"]["id"]
    html = (await client.get(f"/transparency?period={name}")).text
    # Each period's link keeps the page's language.
    assert f'href="/transparency?period={name}&amp;lang=en" aria-current="page"' in html
    assert data["period"]["label"] in html
    year = int(name[:4])
    following = f"{year}-H2" if name.endswith("H1") else f"{year + 1}-H1"
    for unpublished in (following, f"{year - 1}-Q1", "2001"):
        assert_problem(await client.get(f"/transparency?period={unpublished}"), 404)
    for malformed in ("2026-H3", "26-H1", "2026-06"):
        assert_problem(await client.get(f"/transparency?period={malformed}"), 422)


async def test_values_from_the_database_are_escaped(world, client):
    await seed_outcomes(world, client, {("ID", "evil", "account_suspended"): 5})
    from app.models import Organization

    async with world.app.state.sessionmaker() as session, session.begin():
        org = (
            await session.execute(
                Organization.__table__.select().where(Organization.platform == "evil")
            )
        ).one()
        await session.execute(
            Organization.__table__.update()
            .where(Organization.id == org.id)
            .values(name='<img src=x onerror="alert(1)">')
        )
    await publish_now(world)
    html = (await client.get("/transparency")).text
    assert "<img src=x" not in html
    assert "&lt;img src=x" in html
    assert_self_contained(html)
