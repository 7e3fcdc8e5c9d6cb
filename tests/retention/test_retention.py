"""Retention removes every personal field of old flags and keeps every figure and the log."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from app.models import Flag
from tests.cli.test_cli import cli
from tests.conftest import Party, flag_body, party

PLATFORM = "example-video"
BACKDATE = "500 days"  # API-made flags are moved this far back, past a 365-day period
# Every time of a flag's life (not the row's own bookkeeping), moved back together.
TIMESTAMPS = [
    c.name
    for c in Flag.__table__.columns
    if c.name.endswith("_at") and c.name not in ("updated_at", "redacted_at")
]
# Tables whose rows retention may change: a dry run must leave them byte for byte.
TOUCHED = (
    "flag",
    "hold",
    "account",
    "account_key",
    "account_conflict",
    "flag_event",
    "feed_event",
    "webhook_delivery",
    "idempotency_key",
    "outcome_statement",
)


async def _rows(app: Any, sql: str, **params: Any) -> list[Any]:
    async with app.state.engine.connect() as conn:
        return list((await conn.execute(text(sql), params)).all())


async def _execute(app: Any, sql: str, **params: Any) -> None:
    async with app.state.engine.begin() as conn:
        await conn.execute(text(sql), params)


def _unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


async def _old_flags_with_every_field(client, agency: Party, platform: Party) -> dict[str, Any]:
    """Flags full of personal data (closed with a question, an answer, a note and the id the
    platform stated for the account; withdrawn with a reason), to be backdated. Per flag: its
    id, what names its account (`account`) and its other texts (`texts`)."""
    made = []
    # Five closed: they land in a published period, and its report is revised, which is
    # allowed only when every count changes by five or more (app/stats/revisions.py).
    for closes in (True,) * 5 + (False,):
        handle, summary = _unique("h_"), _unique("summary ")
        evidence = f"https://evidence.example.gov/{_unique('case')}/capture.png"
        body = flag_body(PLATFORM, handle, summary=summary, evidence=[{"url": evidence}])
        flag = (await client.post("/v1/flags", json=body, headers=agency.headers)).json()
        made.append({"id": flag["id"], "account": [handle], "texts": [summary, evidence]})
        if not closes:
            reason = _unique("withdrawn because ")
            resp = await client.post(
                f"/v1/flags/{flag['id']}/withdraw", json={"reason": reason}, headers=agency.headers
            )
            assert resp.status_code == 200, resp.text
            made[-1]["texts"].append(reason)
            continue
        question, note = _unique("which post "), _unique("this post ")
        more = f"https://more.example.gov/{_unique('x')}"
        outcome_note, stated_id = _unique("suspended "), _unique("9")
        provision, explanation = _unique("Section "), _unique("the post by ")
        statement = {
            "ground": "illegal_content",
            "legal_provision": provision,
            "explanation": explanation,
            "automated_detection": False,
            "automated_decision": "not_automated",
            "territorial_scope": {"type": "global"},
        }
        for path, payload, who in (
            ("request-info", {"question": question}, platform),
            ("info", {"note": note, "evidence": [{"url": more}]}, agency),
            (
                "outcome",
                {
                    "action": "account_suspended",
                    "note": outcome_note,
                    "account": {"id": stated_id},
                    "statement": statement,
                },
                platform,
            ),
        ):
            resp = await client.post(
                f"/v1/flags/{flag['id']}/{path}", json=payload, headers=who.headers
            )
            assert resp.status_code == 200, resp.text
        made[-1]["account"].append(stated_id)
        made[-1]["texts"] += [question, note, more, outcome_note, provision, explanation]
    return made


async def _backdate(app: Any, ids: list[str]) -> None:
    shifted = ", ".join(f"{c} = {c} - interval '{BACKDATE}'" for c in TIMESTAMPS)
    await _execute(app, f"UPDATE flag SET {shifted} WHERE id = ANY(CAST(:ids AS uuid[]))", ids=ids)


async def _figures(app: Any, client, observer: Party) -> dict[str, Any]:
    """Every statistics answer and the published transparency reports."""
    today = datetime.now(UTC).date()
    span = {"from": (today - timedelta(days=3 * 366)).isoformat(), "to": today.isoformat()}
    asks: list[tuple[str, dict[str, str]]] = [
        ("/v1/stats/outcomes", span),
        ("/v1/stats/outcomes", {**span, "group_by": "month,country,platform"}),
        ("/v1/stats/outcomes", {**span, "group_by": "agency,action,kind,category"}),
        ("/v1/stats/response-times", span),
        ("/v1/stats/platform-reports", span),
        ("/v1/stats/agencies", {}),
        ("/v1/stats/platforms", {}),
        ("/transparency.json", {}),
    ]
    out = {}
    for path, params in asks:
        resp = await client.get(path, params=params, headers=observer.headers)
        assert resp.status_code == 200, (path, resp.text)
        out[f"{path}?{json.dumps(params, sort_keys=True)}"] = _without_clock(resp.json())
    return out


async def _revise(periods: list[str], opts: dict[str, Any]) -> list[bool]:
    """`transparency publish --revise` for each period: whether each made a new revision."""
    made = []
    for period in periods:
        res = await cli(
            ["transparency", "publish", "--period", period, "--revise", "--json"], **opts
        )
        assert res.returncode == 0, res.stderr
        made += [r["created"] for r in json.loads(res.stdout)["reports"]]
    return made


def _without_clock(value: Any) -> Any:
    """The answer without the moment it was computed (`as_of`, `generated_at`)."""
    if isinstance(value, dict):
        return {
            k: _without_clock(v) for k, v in value.items() if k not in ("as_of", "generated_at")
        }
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


async def _found(app: Any, probes: list[str]) -> dict[str, list[str]]:
    """Which probes occur anywhere in a text, json or array column of any table."""
    columns = await _rows(
        app,
        "SELECT c.table_name, c.column_name FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_schema, table_name) "
        "WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' "
        "AND c.data_type IN ('text', 'jsonb', 'json', 'character varying', 'ARRAY')",
    )
    assert len(columns) > 30
    found: dict[str, list[str]] = {}
    for table, column in columns:
        hits = await _rows(
            app,
            f'SELECT DISTINCT p FROM "{table}" t, unnest(CAST(:p AS text[])) AS p '
            f'WHERE strpos(t."{column}"::text, p) > 0',
            p=probes,
        )
        for (probe,) in hits:
            found.setdefault(probe, []).append(f"{table}.{column}")
    return found


async def _digest(app: Any) -> dict[str, str]:
    return {
        t: (
            await _rows(
                app,
                f"SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) FROM {t} x",
            )
        )[0][0]
        for t in TOUCHED
    }


async def test_retention_over_the_demo_history(app, client, world, database_url, tmp_path):
    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(["demo", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    agency = await party(world, "agency", country="ID")
    other = await party(world, "agency", country="AU")
    platform = await party(world, "platform", platform=PLATFORM)
    observer = await party(world, "observer")
    old = await _old_flags_with_every_field(client, agency, platform)
    # Another agency's live flag shares the first old flag's account: the account (its
    # handle, and the id the platform stated for it) stays.
    shared = old[0]["account"][0]
    live = (
        await client.post("/v1/flags", json=flag_body(PLATFORM, shared), headers=other.headers)
    ).json()
    await _backdate(app, [f["id"] for f in old])
    # A feed event past the cursor retention (90 days) of the live flag goes.
    await _execute(
        app,
        "UPDATE feed_event SET occurred_at = now() - interval '200 days' WHERE flag_id = :f",
        f=live["id"],
    )
    old_demo = await _rows(
        app,
        "SELECT account_ref->>'handle', evidence->0->>'url' FROM flag "
        "WHERE coalesce(closed_at, withdrawn_at) < now() - interval '370 days' "
        "ORDER BY id LIMIT 40",
    )
    recent_demo = await _rows(
        app,
        "SELECT account_ref->>'handle', evidence->0->>'url' FROM flag "
        "WHERE closed_at > now() - interval '300 days' AND account_ref->>'handle' IS NOT NULL "
        "ORDER BY id LIMIT 10",
    )
    assert len(old_demo) == 40 and len(recent_demo) == 10
    purged = [p for f in old for p in f["texts"]] + [p for f in old[1:] for p in f["account"]]
    purged += [s for row in old_demo for s in row]
    kept = old[0]["account"] + [s for row in recent_demo for s in row]
    # The scan finds data where it is (so its "nothing left" below means something).
    assert set(await _found(app, purged + kept)) == set(purged + kept)
    # The flags made above were moved into a published period: revise its report first.
    index = (await client.get("/transparency.json")).json()
    periods = sorted({r["period"]["id"] for r in index["reports"]})
    assert periods, "the demo publishes its history"
    assert True in await _revise(periods, opts)
    figures = await _figures(app, client, observer)
    live_before = (await client.get(f"/v1/flags/{live['id']}", headers=other.headers)).json()

    before = await _digest(app)
    res = await cli(["retention", "run", "--days", "365", "--dry-run", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    dry = json.loads(res.stdout)
    assert dry["dry_run"] is True and dry["flags_redacted"] >= 43
    assert await _digest(app) == before

    res = await cli(["retention", "run", "--days", "365", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    done = json.loads(res.stdout)
    clock = ("dry_run", "cutoff", "feed_cutoff")
    assert {k: v for k, v in done.items() if k not in clock} == {
        k: v for k, v in dry.items() if k not in clock
    }
    assert done["feed_events_deleted"] >= 1 and done["account_keys_deleted"] >= 2

    left = await _found(app, purged + kept)
    assert {p: w for p, w in left.items() if p in purged} == {}
    assert set(left) == set(kept)
    assert await _figures(app, client, observer) == figures
    # Rebuilt from what retention left, every report comes out the same document, so a
    # revision would be identical and none is made.
    assert await _revise(periods, opts) == [False] * len(periods)
    live_after = (await client.get(f"/v1/flags/{live['id']}", headers=other.headers)).json()
    assert live_after == live_before
    # The shared account still gathers corroboration: the agency flags it again.
    again = await client.post("/v1/flags", json=flag_body(PLATFORM, shared), headers=agency.headers)
    assert again.json()["corroborations"]["agencies"] == 2

    redacted = (await client.get(f"/v1/flags/{old[1]['id']}", headers=agency.headers)).json()
    assert redacted["summary"] == "[removed]" and redacted["evidence"] == []
    assert redacted["account"] == {"id": None, "handle": None, "url": None}
    assert redacted["outcome"]["action"] == "account_suspended"
    assert redacted["outcome"]["note"] is None
    assert {e["type"] for e in redacted["events"]} >= {"info_requested", "outcome"}

    audited = await _rows(
        app, "SELECT data FROM audit_entry WHERE action = 'retention.run' ORDER BY seq"
    )
    assert len(audited) == 1 and audited[0][0]["flags_redacted"] == done["flags_redacted"]
    res = await cli(["audit", "verify", "--json"], **opts)
    assert res.returncode == 0, res.stdout

    # A second run finds nothing left to remove.
    res = await cli(["retention", "run", "--days", "365", "--json"], **opts)
    assert json.loads(res.stdout)["flags_redacted"] == 0
