"""A correction of a published report is published only when its change reveals no count
under five: two revisions of one period, subtracted, must give back nothing small."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.kit import days
from app.stats import assembly, publication, revisions
from app.stats.period import Period, containing, parse_name
from app.stats.publication import Policy
from tests.cli.test_cli import cli
from tests.stats.differencing import (
    cells,
    pinned_by_the_rule,
    recoveries,
    revision_changes,
    small_changes,
)
from tests.stats.test_publication import MOVE, after_grace, every_public_document
from tests.stats.transparency_helpers import publish_now, seed_outcomes

RECENT = "SELECT id FROM flag WHERE submitted_at > now() - interval '1 day' ORDER BY id"


async def move_recent(world, into: Period, *, limit: int | None = None) -> None:
    """Move the flags answered today (the first `limit` of them) into a past period."""
    at = datetime.combine(into.date_from + timedelta(days=3), time(10), UTC)
    async with world.app.state.engine.begin() as conn:
        ids = list((await conn.execute(text(RECENT))).scalars())[:limit]
        await conn.execute(text(MOVE), {"at": at, "ids": ids})


async def revise(world, name: str) -> publication.Published:
    """The operator's `--revise`, as the service runs it, once the period is due."""
    period = parse_name(name)
    assert period is not None
    state = world.app.state
    async with state.sessionmaker() as session, session.begin():
        return await publication.publish_period(
            session=session, ring=state.verifier.ring, policy=Policy(), name=name,
            revise=True, actor_label="test", now=after_grace(period) + timedelta(days=9),
        )  # fmt: skip


async def would_be(world, name: str, revision: int) -> dict[str, Any]:
    """The document a revision would have if it were published now, rule or not."""
    period = parse_name(name)
    assert period is not None
    async with world.app.state.sessionmaker() as session, session.begin():
        report = await assembly.build_report(session=session, period=period, revision=revision)
    return report.model_dump(mode="json", by_alias=True)


async def published(client, name: str, revision: int) -> dict[str, Any]:
    """One published revision's report."""
    resp = await client.get(f"/transparency/reports/{name}.json?revision={revision}")
    assert resp.status_code == 200, resp.text
    return dict(resp.json()["report"])


async def revision_list(client) -> list[tuple[str, int]]:
    """Every published (period, revision) the index lists."""
    index = (await client.get("/transparency.json")).json()
    return [(r["period"]["id"], r["revision"]) for r in index["reports"]]


async def test_a_correction_of_two_closures_is_refused(
    world, client, tmp_path, database_url, keys_dir
):
    past = containing(days.add_months(datetime.now(UTC).date(), -14), "half")
    await seed_outcomes(world, client, {("ID", "chirp", "account_suspended"): 6})
    await move_recent(world, past)
    opts = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "env": {"FLAGBRIDGE_KEYS_DIR": str(keys_dir)},
    }
    res = await cli(["transparency", "publish", "--period", past.name], **opts)
    assert res.returncode == 0, res.stderr
    first = await published(client, past.name, 1)
    # Two late closures for Indonesia in the same month (on another platform).
    await seed_outcomes(world, client, {("ID", "facepage", "account_suspended"): 2})
    await move_recent(world, past)

    command = ["transparency", "publish", "--period", past.name, "--revise", "--json"]
    res = await cli(command, **opts)
    assert res.returncode == 2, res.stderr
    assert "by fewer than 5; publishing it would reveal those changes" in res.stderr
    assert json.loads(res.stdout)["error"]["status"] == 409
    assert await revision_list(client) == [(past.name, 1)]
    async with world.app.state.engine.connect() as conn:
        audited = await conn.execute(
            text("SELECT object_id FROM audit_entry WHERE action = 'transparency.published'")
        )
        assert audited.scalars().all() == [f"{past.name}/1"]

    # Without the rule, subtracting the two revisions gives the 2 back: the attack can fail.
    found = small_changes(first, await would_be(world, past.name, 2))
    assert {c.change for c in found} == {2}
    assert "suspensions" in {c.what for c in found}


async def test_a_correction_of_five_or_more_each_way_up_is_published(world, client):
    await seed_outcomes(
        world,
        client,
        {
            ("ID", "chirp", "account_suspended"): 6,
            ("PH", "facepage", "account_suspended"): 8,
            ("AU", "chirp", "no_violation"): 7,
        },
    )
    name = await publish_now(world)
    await seed_outcomes(
        world,
        client,
        {("ID", "vidtube", "account_suspended"): 5, ("NZ", "tubeclip", "account_suspended"): 7},
    )
    assert await revise(world, name) == publication.Published(name, 2, True)

    first, second = await published(client, name, 1), await published(client, name, 2)
    assert (first["totals"]["suspensions"], second["totals"]["suspensions"]) == (14, 26)
    changes = [c.change for c in small_changes(first, second)]
    assert changes == []
    # The attack did look: it saw changes, every one 0 or at least five.
    assert {5, 12} <= {abs(c.change) for c in revision_changes(first, second)}
    assert recoveries(cells(await every_public_document(client))) == []
    assert pinned_by_the_rule(first, second) == []


async def test_a_correction_that_raises_some_figures_and_lowers_others_is_refused(world, client):
    await seed_outcomes(world, client, {("ID", "chirp", "account_suspended"): 6})
    name = await publish_now(world)
    first = await published(client, name, 1)
    # Five of Indonesia's closures turn out to belong to another period, and six
    # Australian ones arrive: each change is five or more, but the total moves by one.
    long_ago = containing(days.add_months(datetime.now(UTC).date(), -30), "half")
    await move_recent(world, long_ago, limit=5)
    await seed_outcomes(world, client, {("AU", "vidtube", "account_suspended"): 6})

    with pytest.raises(revisions.UnsafeRevision, match="raises some figures and lowers others"):
        await revise(world, name)
    assert await revision_list(client) == [(name, 1)]
    found = small_changes(first, await would_be(world, name, 2))
    assert 1 in {c.change for c in found}


async def test_a_correction_that_would_unhide_a_small_count_is_refused(world, client):
    plan = {
        ("ID", "chirp", "account_suspended"): 6,
        ("PH", "facepage", "account_suspended"): 1,
        ("AU", "chirp", "account_suspended"): 7,
    }
    await seed_outcomes(world, client, plan)
    name = await publish_now(world)
    first = await published(client, name, 1)
    assert {r["country"]: r["count"] for r in first["suspensions_by_country"]}["PH"] == "<5"
    # Five more for the Philippines: every count changes by five, all up, yet printing
    # the Philippines' 6 beside revision 1's "<5" says it was 1 (it can only grow by 5+).
    await seed_outcomes(world, client, {("PH", "vidtube", "account_suspended"): 5})

    with pytest.raises(revisions.UnsafeRevision, match="narrows them down"):
        await revise(world, name)
    assert await revision_list(client) == [(name, 1)]
    found = pinned_by_the_rule(first, await would_be(world, name, 2))
    assert ("old PH", 1) in {(c.what, c.change) for c in found}
