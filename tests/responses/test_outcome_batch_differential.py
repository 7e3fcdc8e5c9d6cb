"""POST /v1/outcomes/batch against the single routes: the same random mix of answers, sent
as one batch to one world and one by one to an identical fresh world, must give the same
per-item answers and leave the same history, feed events and audit rows (ids, names and
times aside)."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Party, flag_body, party

ACTIONS = ["content_removed", "account_suspended", "no_violation", "account_withheld_in_country"]
_REASONS = {
    "ground": "illegal_content",
    "legal_provision": "Art. 5 Directive (EU) 2017/541",
    "automated_detection": False,
    "automated_decision": "not_automated",
}
# Statements of reasons: by country, global (refused for account_withheld_in_country), and
# one with a code that is not a country (always refused).
STATEMENTS = [
    {**_REASONS, "territorial_scope": {"type": "countries", "countries": ["fr", "DE"]}},
    {**_REASONS, "explanation": "why", "territorial_scope": {"type": "global"}},
    {**_REASONS, "territorial_scope": {"type": "countries", "countries": ["ZZ"]}},
]
TIME_KEYS = ("at", "actioned_at", "occurred_at")


async def build(world: Any, client: Any, name: str) -> dict[str, Any]:
    """A fresh agency and platform with flags in every status a platform can meet."""
    agency = await party(world, "agency", country="ID")
    platform = await party(world, "platform", platform=name)
    other = await party(world, "platform", platform=f"{name}-other")

    async def submit(to: str) -> str:
        resp = await client.post("/v1/flags", json=flag_body(to), headers=agency.headers)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    flags = [await submit(name) for _ in range(8)]
    hdrs = platform.headers
    await client.post(f"/v1/flags/{flags[5]}/ack", headers=hdrs)
    await client.post(f"/v1/flags/{flags[6]}/request-info", json={"question": "q"}, headers=hdrs)
    await client.post(
        f"/v1/flags/{flags[7]}/outcome", json={"action": "no_violation"}, headers=hdrs
    )
    await client.post(
        f"/v1/flags/{flags[4]}/withdraw", json={"reason": "r"}, headers=agency.headers
    )
    flags.append(await submit(f"{name}-other"))  # another platform's flag: 404 here
    flags.append(str(uuid.uuid4()))  # no such flag
    return {"agency": agency, "platform": platform, "other": other, "flags": flags}


def mix(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """Answers by flag position: acks, outcomes, repeats, and a few invalid ones."""
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    items: list[dict[str, Any]] = []
    for _ in range(n):
        item: dict[str, Any] = {"flag": rng.randrange(10), "type": rng.choice(["ack", "outcome"])}
        if item["type"] == "outcome":
            item["action"] = rng.choice(ACTIONS)
            if rng.random() < 0.4:
                item["note"] = rng.choice(["done", "gone", None])
            if rng.random() < 0.5:
                item["statement"] = rng.choice(STATEMENTS)
            roll = rng.random()
            if roll < 0.1:
                item["actioned_at"] = future
            elif roll < 0.3:
                item["actioned_at"] = past
        items.append(item)
    return items


def body_of(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in ("flag", "type")}


def shape(value: Any, ids: dict[str, str]) -> Any:
    """value with flag ids as positions, and names, times and other ids left out."""
    if isinstance(value, dict):
        return {
            k: shape(v, ids)
            for k, v in value.items()
            if k not in ("agency", "account", "platform", "id", "instance", "request_id")
            and not k.endswith("_at")
        } | {k: value[k] is not None for k in value if k.endswith("_at")}
    if isinstance(value, list):
        return [shape(v, ids) for v in value]
    if isinstance(value, str) and value in ids:
        return ids[value]
    return value


async def rows(app: Any, cast: dict[str, Any]) -> dict[str, Any]:
    """History, the agency's feed and the platform's audit rows, in their order."""
    ids = {f: f"flag{i}" for i, f in enumerate(cast["flags"])}
    async with app.state.engine.connect() as conn:
        history = await conn.execute(
            text(
                "SELECT flag_id::text, type, data FROM flag_event "
                "WHERE flag_id::text = ANY(:f) ORDER BY id"
            ),
            {"f": cast["flags"]},
        )
        feed = await conn.execute(
            text(
                "SELECT flag_id::text, type, data FROM feed_event "
                "WHERE recipient_org_id = :o ORDER BY id"
            ),
            {"o": cast["agency"].org_id},
        )
        audit = await conn.execute(
            text(
                "SELECT object_id, action, data FROM audit_entry "
                "WHERE actor_org_id = :o ORDER BY seq"
            ),
            {"o": cast["platform"].org_id},
        )
        statements = await conn.execute(
            text(
                "SELECT flag_id::text, decision, action, ground, legal_provision, explanation, "
                "automated_detection, automated_decision, territorial_scope "
                "FROM outcome_statement WHERE flag_id::text = ANY(:f)"
            ),
            {"f": cast["flags"]},
        )
        found = {
            name: [shape(list(r), ids) for r in result]
            for name, result in (("history", history), ("feed", feed), ("audit", audit))
        }
        # One statement per flag and decision: compared as a set (a batch's share a time).
        return found | {"statements": sorted(shape(list(r), ids) for r in statements)}


async def one_by_one(client: Any, who: Party, flags: list[str], items: list[dict[str, Any]]):
    results = []
    for item in items:
        route = "ack" if item["type"] == "ack" else "outcome"
        resp = await client.post(
            f"/v1/flags/{flags[item['flag']]}/{route}",
            json=body_of(item) if route == "outcome" else None,
            headers=who.headers,
        )
        results.append((resp.status_code, resp.json()))
    return results


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batch_answers_equal_single_answers_one_by_one(app, client, world, seed):
    rng = random.Random(seed)
    items = mix(rng, 40)
    batch_world = await build(world, client, f"diffa{seed}")
    single_world = await build(world, client, f"diffb{seed}")

    flags = batch_world["flags"]
    batch = [{"flag_id": flags[i["flag"]], "type": i["type"], **body_of(i)} for i in items]
    resp = await client.post(
        "/v1/outcomes/batch",
        json={"items": batch},
        headers=batch_world["platform"].headers,
    )
    assert resp.status_code == 200, resp.text
    batched = [(r["status"], r.get("flag") or r.get("error")) for r in resp.json()["results"]]
    single = await one_by_one(client, single_world["platform"], single_world["flags"], items)

    a_ids = {f: f"flag{i}" for i, f in enumerate(batch_world["flags"])}
    b_ids = {f: f"flag{i}" for i, f in enumerate(single_world["flags"])}
    assert [s for s, _ in batched] == [s for s, _ in single]
    assert {s for s, _ in batched} >= {200, 404, 409}  # the mix reaches every kind of answer
    for (status, a), (_, b) in zip(batched, single, strict=True):
        assert shape(a, a_ids) == shape(b, b_ids), status
    left = await rows(app, batch_world)
    assert left == await rows(app, single_world)
    assert left["statements"], "the mix stores statements of reasons"
