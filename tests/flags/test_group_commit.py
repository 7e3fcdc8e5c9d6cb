"""Group commit of single submissions: grouped answers stay per caller, one bad item fails alone."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from sqlalchemy import text

from app.flags.group_commit import GroupCommitter, Submission
from tests.conftest import flag_body, party


def submission(agency, body: dict, key: str | None = None) -> Submission:
    return Submission(
        org_id=uuid.UUID(agency.org_id),
        client_id=uuid.UUID(agency.creds.client_id),
        country=agency.country,
        flag=json.dumps(body),
        idempotency_key=key,
        request_hash="h",
        request_id="r",
        client_ip=None,
        platform=body["platform"],
        account=body["account"],
    )


def normalised(body: dict) -> dict:
    out = dict(body)
    out.update({"kind": "referral", "priority": "standard", "external_ref": None})
    out["account"] = {"id": None, "url": None, **body["account"]}
    return out


@pytest.fixture
async def agencies(world):
    await party(world, "platform", platform="twitter")
    out = []
    for cc in ("ID", "AU", "SG"):
        p = await party(world, "agency", country=cc)
        p.country = cc
        out.append(p)
    return out


async def test_concurrent_submissions_share_statements_but_not_answers(app, agencies):
    committer = GroupCommitter(app.state.pg_pool, route="POST /v1/flags", max_in_flight=1)
    items = [(a, normalised(flag_body("twitter"))) for a in agencies for _ in range(10)]
    results = await asyncio.gather(*(committer.submit(submission(a, b)) for a, b in items))
    for (agency, body), (status, raw, replayed, notify, flag_id) in zip(
        items, results, strict=True
    ):
        flag = json.loads(raw)
        assert status == 201 and not replayed
        assert flag["agency"]["id"] == agency.org_id and flag["country"] == agency.country
        assert flag["account"]["handle"] == body["account"]["handle"]
        assert flag_id == flag["id"] and len(notify) == 1
    async with app.state.engine.connect() as conn:
        assert (await conn.execute(text("SELECT count(*) FROM flag"))).scalar() == 30


async def test_an_item_that_fails_does_not_fail_its_group(app, agencies):
    committer = GroupCommitter(app.state.pg_pool, route="POST /v1/flags", max_in_flight=1)
    good = [submission(agencies[0], normalised(flag_body("twitter"))) for _ in range(4)]
    bad_body = normalised(flag_body("twitter"))
    bad_body["category"] = "not-a-category"  # passes nothing but the table's CHECK
    bad = submission(agencies[1], bad_body)
    results = await asyncio.gather(
        *(committer.submit(s) for s in [*good[:2], bad, *good[2:]]), return_exceptions=True
    )
    assert isinstance(results[2], Exception)
    assert [r[0] for i, r in enumerate(results) if i != 2] == [201] * 4
    async with app.state.engine.connect() as conn:
        flags = (await conn.execute(text("SELECT count(*) FROM flag"))).scalar()
        audits = (
            await conn.execute(
                text("SELECT count(*) FROM audit_entry WHERE action = 'flag.submitted'")
            )
        ).scalar()
    assert flags == audits == 4


async def test_same_key_twice_in_one_group_creates_one_flag(app, agencies):
    committer = GroupCommitter(app.state.pg_pool, route="POST /v1/flags", max_in_flight=1)
    # Load the identity profiles first: a cold cache makes each submission wait on its own
    # lookup, and the three would then reach the queue in any order, not as one group.
    await committer.profiles.profile_of("twitter")
    body = normalised(flag_body("twitter"))
    results = await asyncio.gather(
        *(committer.submit(submission(agencies[0], body, key="same")) for _ in range(3))
    )
    assert [r[0] for r in results] == [201, 201, 201]
    assert [r[2] for r in results] == [False, True, True]
    assert len({json.loads(r[1])["id"] for r in results}) == 1
