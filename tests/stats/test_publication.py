"""Published transparency reports: due periods only, frozen, signed, revised beside, and
no pair of public numbers differenced into a count under five."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.errors import Conflict
from app.kit import days
from app.stats import assembly, publication
from app.stats.period import Period, containing, parse_name
from app.stats.publication import Policy
from tests.cli.test_cli import cli
from tests.conftest import assert_problem
from tests.stats.differencing import cells, pinned_by_the_rule, recoveries, small_changes
from tests.stats.transparency_helpers import publish_now, seed_outcomes

# A year shaped like the issue's: in month X Indonesia has 4 suspensions and the
# Philippines 3, beside bigger months. The old free-range API gave them back by
# subtraction (twelve months to X minus eleven months to X-1).
MONTHS_BACK = {"X": 1, "X-1": 2, "X-5": 6}
SHAPE: dict[tuple[str, str, str], list[tuple[str, int]]] = {
    ("ID", "chirp", "account_suspended"): [("X", 4), ("X-1", 20)],
    ("ID", "facepage", "account_suspended"): [("X-5", 30)],
    ("PH", "facepage", "account_suspended"): [("X", 3), ("X-1", 12)],
    ("PH", "chirp", "account_suspended"): [("X-5", 8)],
    ("AU", "chirp", "account_suspended"): [("X", 9), ("X-1", 10)],
    ("AU", "facepage", "account_suspended"): [("X", 7)],
    ("MY", "chirp", "account_suspended"): [("X-5", 6)],
    ("AU", "chirp", "no_violation"): [("X", 6), ("X-5", 2)],
}

MOVE = """
UPDATE flag SET submitted_at = t.at - interval '5 minutes', opened_at = t.at,
       delivered_at = t.at, acknowledged_at = t.at + interval '10 minutes',
       closed_at = t.at + interval '2 hours', actioned_at = t.at + interval '2 hours'
FROM (SELECT CAST(:at AS timestamptz) AS at) t
WHERE id = ANY(:ids)
"""
CLOSED_GROUP = """
SELECT f.id FROM flag f JOIN organization a ON a.id = f.agency_org_id
WHERE f.status = 'closed' AND a.country = :country AND f.platform = :platform
  AND f.outcome_action = :action
ORDER BY f.id
"""


def month(key: str) -> date:
    """The first day of a month of the shape, counted back from this one."""
    return days.add_months(days.month_start(datetime.now(UTC).date()), -MONTHS_BACK[key])


async def seed_shaped_year(world, client) -> None:
    """The shape's flags, answered through the API, then moved into their months."""
    plan = {k: sum(n for _, n in v) for k, v in SHAPE.items()}
    await seed_outcomes(world, client, plan)
    async with world.app.state.engine.begin() as conn:
        for (country, platform, action), spread in SHAPE.items():
            ids = (
                await conn.execute(
                    text(CLOSED_GROUP),
                    {"country": country, "platform": platform, "action": action},
                )
            ).scalars()
            ids = list(ids)
            for key, n in spread:
                at = datetime.combine(month(key) + timedelta(days=3), time(10), UTC)
                await conn.execute(text(MOVE), {"at": at, "ids": ids[:n]})
                ids = ids[n:]


def after_grace(period: Period, policy: Policy = Policy()) -> datetime:
    """The first moment the period's report is due, plus a second."""
    return days.utc_day_start(period.date_to) + policy.grace + timedelta(seconds=1)


async def publish_due(world, now: datetime, policy: Policy = Policy()) -> list[Any]:
    """The periodic job, as a server runs it, at a chosen time."""
    state = world.app.state
    return await publication.publish_due(
        sessionmaker=state.sessionmaker, ring=state.verifier.ring, policy=policy, now=now
    )


async def every_public_document(client) -> dict[str, dict[str, Any]]:
    """Every report the public API serves: the index's latest, every period's newest, and
    every revision."""
    index = (await client.get("/transparency.json")).json()
    documents = {"/transparency.json latest": index["latest"]}
    for ref in index["reports"]:
        for url in (ref["url"], ref["url"].split("?")[0]):
            resp = await client.get(url)
            assert resp.status_code == 200, resp.text
            documents[url] = resp.json()["report"]
    return documents


async def test_no_pair_of_public_numbers_gives_back_a_count_under_five(world, client):
    await seed_shaped_year(world, client)
    current = containing(datetime.now(UTC).date(), "half")
    await publish_due(world, after_grace(current))
    # A late answer in month X, then a correction: revisions are public too.
    await seed_outcomes(world, client, {("NZ", "vidtube", "account_suspended"): 6})
    state = world.app.state
    async with state.sessionmaker() as session, session.begin():
        fixed = await publication.publish_period(
            session=session, ring=state.verifier.ring, policy=Policy(), name=current.name,
            revise=True, actor_label="test", now=after_grace(current),
        )  # fmt: skip
    assert fixed.revision == 2 and fixed.created

    documents = await every_public_document(client)
    published = cells(documents)
    assert len(documents) >= 4 and len(published) > 100
    assert recoveries(published) == []
    url = f"/transparency/reports/{current.name}.json?revision="
    assert small_changes(documents[f"{url}1"], documents[f"{url}2"]) == []
    assert pinned_by_the_rule(documents[f"{url}1"], documents[f"{url}2"]) == []

    # The same attack on what the free-range API used to answer recovers the issue's
    # counts: it can fail, and it is the published periods that stop it.
    x, x1 = month("X"), month("X-1")
    old = {
        "from=X&to=X": Period(x, x, "X"),
        "twelve months to X": Period(days.add_months(x, -11), x, "12"),
        "eleven months to X-1": Period(days.add_months(x1, -10), x1, "11"),
    }
    async with state.sessionmaker() as session, session.begin():
        old_documents = {
            where: (await assembly.build_report(session=session, period=p)).model_dump(
                mode="json", by_alias=True
            )
            for where, p in old.items()
        }
    old_countries = {
        r["country"]: r["count"] for r in old_documents["from=X&to=X"]["suspensions_by_country"]
    }
    assert old_countries["ID"] == "<5" and old_countries["PH"] == "<5"
    recovered = {
        (r.minuend.where, r.subtrahend.where, r.count) for r in recoveries(cells(old_documents))
    }
    assert ("twelve months to X ID", "eleven months to X-1 ID", 4) in recovered
    assert ("twelve months to X PH", "eleven months to X-1 PH", 3) in recovered


async def test_the_current_period_and_an_ungraced_one_are_never_served(world, client):
    await seed_outcomes(world, client, {("ID", "chirp", "account_suspended"): 7})
    today = datetime.now(UTC).date()
    current = containing(today, "half")
    # Now: the current period is open, so nothing is due.
    assert await publish_due(world, datetime.now(UTC)) == []
    # Closed, but inside the grace period: still nothing.
    assert await publish_due(world, after_grace(current) - timedelta(seconds=2)) == []
    for url in (
        f"/transparency/reports/{current.name}.json",
        f"/transparency/reports/{current.name}.json?revision=1",
        f"/transparency?period={current.name}",
    ):
        assert_problem(await client.get(url), 404)
    assert (await client.get("/transparency.json")).json()["reports"] == []
    # The operator cannot force it either.
    async with world.app.state.sessionmaker() as session, session.begin():
        with pytest.raises(Conflict):
            await publication.publish_period(
                session=session, ring=world.app.state.verifier.ring, policy=Policy(),
                name=current.name, revise=False, actor_label="test", now=datetime.now(UTC),
            )  # fmt: skip
    # Once graced, the job publishes it once, however many processes run the job.
    runs = await asyncio.gather(*(publish_due(world, after_grace(current)) for _ in range(4)))
    made = [p for run in runs for p in run]
    assert [(p.period, p.revision) for p in made] == [(current.name, 1)]
    assert await publish_due(world, after_grace(current)) == []
    resp = await client.get(f"/transparency/reports/{current.name}.json")
    assert resp.status_code == 200
    assert resp.json()["report"]["totals"]["suspensions"] == 7


async def test_a_report_is_the_same_bytes_on_every_fetch_and_verifies(
    world, client, tmp_path, database_url, keys_dir
):
    await seed_outcomes(world, client, {("ID", "chirp", "account_suspended"): 9})
    name = await publish_now(world)
    url = f"/transparency/reports/{name}.json"
    first = await client.get(f"{url}?revision=1")
    assert first.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=31536000, immutable"
    # More data after freezing changes nothing that was published.
    await seed_outcomes(world, client, {("AU", "facepage", "account_suspended"): 5})
    for _ in range(3):
        again = await client.get(f"{url}?revision=1")
        assert again.content == first.content
        assert again.headers["etag"] == first.headers["etag"]
    assert (await client.get(url)).content == first.content
    unchanged = await client.get(
        f"{url}?revision=1", headers={"If-None-Match": first.headers["etag"]}
    )
    assert unchanged.status_code == 304 and unchanged.content == b""
    assert first.json()["report"]["totals"]["suspensions"] == 9

    saved = tmp_path / "report.json"
    saved.write_bytes(first.content)
    jwks = tmp_path / "jwks.json"
    jwks.write_text((await client.get("/.well-known/jwks.json")).text)
    opts = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "env": {"FLAGBRIDGE_KEYS_DIR": str(keys_dir)},
    }
    for keys in (["--jwks", str(jwks)], []):
        res = await cli(["transparency", "verify", str(saved), "--json", *keys], **opts)
        assert res.returncode == 0, res.stderr
        assert json.loads(res.stdout) == {"verified": True, "period": name, "revision": 1}

    tampered = json.loads(first.content)
    tampered["report"]["totals"]["suspensions"] = 10
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(tampered))
    res = await cli(["transparency", "verify", str(forged), "--jwks", str(jwks)], **opts)
    assert res.returncode == 1 and "differs from the signed document" in res.stderr
    other_key = tmp_path / "other.json"
    other_key.write_text(json.dumps({"keys": []}))
    res = await cli(["transparency", "verify", str(saved), "--jwks", str(other_key)], **opts)
    assert res.returncode == 1 and "which the keys given do not hold" in res.stderr


async def test_a_correction_is_a_new_revision_beside_the_first(world, client):
    await seed_outcomes(world, client, {("ID", "chirp", "account_suspended"): 6})
    name = await publish_now(world)
    period = parse_name(name)
    assert period is not None
    state = world.app.state

    async def revise() -> publication.Published:
        async with state.sessionmaker() as session, session.begin():
            return await publication.publish_period(
                session=session, ring=state.verifier.ring, policy=Policy(), name=name,
                revise=True, actor_label="test", now=after_grace(period) + timedelta(days=9),
            )  # fmt: skip

    # Nothing changed: no new revision.
    assert (await revise()) == publication.Published(name, 1, False)
    await seed_outcomes(world, client, {("AU", "vidtube", "account_suspended"): 8})
    assert (await revise()) == publication.Published(name, 2, True)
    first = (await client.get(f"/transparency/reports/{name}.json?revision=1")).json()["report"]
    second = (await client.get(f"/transparency/reports/{name}.json")).json()["report"]
    assert (first["revision"], first["totals"]["suspensions"]) == (1, 6)
    assert (second["revision"], second["totals"]["suspensions"]) == (2, 14)
    index = (await client.get("/transparency.json")).json()
    assert [(r["period"]["id"], r["revision"]) for r in index["reports"]] == [(name, 1), (name, 2)]
    assert index["latest"] == second
    assert_problem(await client.get(f"/transparency/reports/{name}.json?revision=3"), 404)
    # Stored reports cannot be edited, even by the database owner.
    async with state.engine.connect() as conn:
        with pytest.raises(Exception, match="append-only"):
            await conn.execute(text("UPDATE transparency_report SET revision = 9"))


async def test_a_new_granularity_never_overlaps_a_published_report(world, client):
    await seed_outcomes(world, client, {("ID", "chirp", "account_suspended"): 6})
    name = await publish_now(world)
    period = parse_name(name)
    assert period is not None
    later = after_grace(period) + timedelta(days=400)
    made = await publish_due(world, later, Policy(granularity="quarter"))
    published = [parse_name(p.period) for p in made]
    assert published and all(
        p is not None and not p.overlaps(period.first, period.last) for p in published
    )
    ids = [r["period"]["id"] for r in (await client.get("/transparency.json")).json()["reports"]]
    assert ids[0] == name and all("-Q" in i for i in ids[1:])


async def test_cli_publishes_a_closed_period_once(world, client, tmp_path, database_url, keys_dir):
    opts = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "env": {"FLAGBRIDGE_KEYS_DIR": str(keys_dir)},
    }
    res = await cli(["transparency", "publish", "--period", "2025-H1", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "reports": [{"period": "2025-H1", "revision": 1, "created": True}]
    }
    res = await cli(["transparency", "publish", "--period", "2025-H1", "--revise"], **opts)
    assert res.returncode == 0 and "revision 1 unchanged" in res.stdout
    current = containing(datetime.now(UTC).date(), "half").name
    res = await cli(["transparency", "publish", "--period", current], **opts)
    assert res.returncode == 1 and "is not published before" in res.stderr
    assert (await client.get("/transparency/reports/2025-H1.json")).status_code == 200
    async with world.app.state.engine.connect() as conn:
        audited = await conn.execute(
            text("SELECT object_id FROM audit_entry WHERE action = 'transparency.published'")
        )
        assert audited.scalars().all() == ["2025-H1/1"]
