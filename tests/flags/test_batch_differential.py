"""POST /v1/flags/batch answers and writes exactly what POST /v1/flags one by one does.

The batch writes its common case set-based (app/flags/sql/submit.sql); this compares it with
the single-flag route on a random mix of items. Two copies of one world (a platform each,
with the same identity profile, the same agencies, holds and earlier flags) get the same
items: one copy as a batch, the other one request at a time. Everything observable must be
equal once ids, times and the platform's slug are replaced by labels: the answers, every
organisation's feed, the audit entries and the platform's statistics.
"""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.vocabulary import FLAG_KINDS, PRIORITIES
from tests.conftest import Party, flag_body, party

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")
KINDS = ("new", "new", "new", "repeat", "corroborated", "duplicate", "held", "unregistered",
         "invalid", "released")  # fmt: skip


class Copy:
    """One copy of the world: a platform, the submitting agency and the agencies around it."""

    def __init__(self, platform: str, parties: dict[str, Party]) -> None:
        self.platform = platform
        self.parties = parties

    def __getattr__(self, name: str) -> Party:
        return self.parties[name]


async def build_copy(world: Any, client: Any, label: str, handles: dict[str, list[str]]) -> Copy:
    """A platform with the Twitter profile, and the same earlier flags and holds as the other."""
    slug = f"tw{label}{uuid.uuid4().hex[:6]}"
    copy = Copy(
        slug,
        {
            "platform": await party(
                world, "platform", platform=slug, identity_profile="twitter", name=slug
            ),
            # Named after the slug, which the labels replace in both copies alike.
            "agency": await party(world, "agency", country="ID", name=f"agency {slug}"),
            "other": await party(world, "agency", country="SG", name=f"other {slug}"),
            "holder": await party(world, "agency", country="AU", name=f"holder {slug}"),
        },
    )
    expires = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    for who, names in (("other", handles["corroborated"]), ("agency", handles["duplicate"])):
        for name in names:
            resp = await client.post(
                "/v1/flags", json=flag_body(slug, name), headers=copy.parties[who].headers
            )
            assert resp.status_code == 201, resp.text
    for names, release in ((handles["held"], False), (handles["released"], True)):
        for name in names:
            hold = {"platform": slug, "account": {"handle": name}, "expires_at": expires,
                    "reason": "Active investigation: do not alert the account holder."}  # fmt: skip
            resp = await client.post("/v1/holds", json=hold, headers=copy.holder.headers)
            assert resp.status_code == 201, resp.text
            if release:
                resp = await client.delete(
                    f"/v1/holds/{resp.json()['id']}", headers=copy.holder.headers
                )
                assert resp.status_code == 200, resp.text
    return copy


def random_items(seed: int, handles: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Items with a placeholder platform ("{platform}"), of every kind, in a random order."""
    rng = random.Random(seed)
    items: list[dict[str, Any]] = []
    used: list[str] = []
    for n in range(rng.randint(25, 45)):
        kind = rng.choice(KINDS)
        extra = {"kind": rng.choice(FLAG_KINDS), "priority": rng.choice(PRIORITIES)}
        platform = "{platform}"
        if kind == "repeat" and used:
            # The same account, spelled as another agency might (case, a leading @).
            handle = rng.choice(used)
            handle = rng.choice(["@" + handle, handle.upper()])
        elif kind in handles:
            handle = rng.choice(handles[kind])
        else:
            handle = f"s{seed}_n{n}"
            used.append(handle)
        if kind == "unregistered":
            platform = "myspace"
        flag = flag_body(platform, handle, **extra)
        if kind == "invalid":
            del flag["category"]
        items.append(flag)
    return items


def for_copy(items: list[dict[str, Any]], copy: Copy) -> list[dict[str, Any]]:
    """The items with the copy's platform slug."""
    return [{**i, "platform": i["platform"].replace("{platform}", copy.platform)} for i in items]


class Labels:
    """Replaces ids, times and the platform's slug with labels in order of first sight."""

    def __init__(self, copy: Copy) -> None:
        self.slug = copy.platform
        self.seen: dict[str, str] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, dict):
            # Feed event ids are numbers: labelled too, so their order still counts.
            return {k: self(f"event {v}" if k == "event_id" else v) for k, v in value.items()}
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, str):
            if UUID.match(value) or value.startswith("event "):
                return self.seen.setdefault(value, f"id{len(self.seen)}")
            if TIME.match(value):
                return "<time>"
            return value.replace(self.slug, "<platform>")
        return value


async def observe(app: Any, client: Any, copy: Copy, answers: list[Any]) -> dict[str, Any]:
    """Everything one can see of a copy after the submissions, with labels."""
    labels = Labels(copy)
    seen: dict[str, Any] = {"answers": labels(answers)}
    async with app.state.engine.connect() as conn:
        rows = await conn.execute(
            text(
                "SELECT actor_client_id::text, actor_org_id::text, actor_label, client_ip,"
                " action, object_type, object_id, data FROM audit_entry"
                " WHERE actor_org_id = CAST(:org AS uuid) ORDER BY seq"
            ),
            {"org": copy.agency.org_id},
        )
        seen["audit"] = labels([list(r) for r in rows])
    for who in ("platform", "agency", "other", "holder"):
        resp = await client.get(
            "/v1/feed", params={"limit": 500}, headers=copy.parties[who].headers
        )
        assert resp.status_code == 200, resp.text
        seen[f"feed of {who}"] = labels(resp.json()["items"])
    return seen


async def platform_stats(client: Any, world: Any, copy: Copy) -> dict[str, Any]:
    """The platform's line of GET /v1/stats/platforms."""
    resp = await client.get("/v1/stats/platforms", headers=await world.headers("observer"))
    assert resp.status_code == 200, resp.text
    (line,) = [p for p in resp.json()["items"] if p["platform"] == copy.platform]
    return dict(Labels(copy)({k: v for k, v in line.items() if k != "organization"}))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_batch_answers_and_writes_what_one_by_one_does(app, world, client, seed):
    rng = random.Random(seed)
    handles = {
        kind: [f"s{seed}_{kind[:4]}{n}_{rng.randint(0, 999)}" for n in range(3)]
        for kind in ("corroborated", "duplicate", "held", "released")
    }
    batch_copy = await build_copy(world, client, "a", handles)
    single_copy = await build_copy(world, client, "b", handles)
    items = random_items(seed, handles)

    key = {"Idempotency-Key": f"differential-{seed}"}
    resp = await client.post(
        "/v1/flags/batch",
        json={"flags": for_copy(items, batch_copy)},
        headers={**batch_copy.agency.headers, **key},
    )
    assert resp.status_code == 200, resp.text
    batch_answers = [[r["status"], r.get("flag") or r.get("error")] for r in resp.json()["results"]]
    single_answers = []
    for flag in for_copy(items, single_copy):
        one = await client.post("/v1/flags", json=flag, headers=single_copy.agency.headers)
        single_answers.append([one.status_code, one.json()])

    statuses = {a[0] for a in batch_answers}
    assert {201, 409, 422} <= statuses, statuses  # the mix really has every kind of answer
    assert await platform_stats(client, world, batch_copy) == await platform_stats(
        client, world, single_copy
    )
    batch_seen = await observe(app, client, batch_copy, batch_answers)
    single_seen = await observe(app, client, single_copy, single_answers)
    for part in batch_seen:
        assert batch_seen[part] == single_seen[part], part

    # A replayed batch answers the same and writes nothing more.
    replay = await client.post(
        "/v1/flags/batch",
        json={"flags": for_copy(items, batch_copy)},
        headers={**batch_copy.agency.headers, **key},
    )
    assert replay.json() == resp.json()
    assert (await observe(app, client, batch_copy, batch_answers))["audit"] == batch_seen["audit"]
