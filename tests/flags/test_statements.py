"""Statements of reasons on outcomes: recorded with an outcome (single and batch), checked
(ground and reference, territorial scope, the withheld action), shown on the flag and in
the feed, filed at GET /v1/flags/{id}/statement as JSON and printable HTML, audited by
digest only, and who may read them."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

import pytest
from sqlalchemy import text

from tests.conftest import Party, assert_problem, flag_body, party

PLATFORM = "twitter"


def statement(**overrides: Any) -> dict[str, Any]:
    """A valid statement: illegal content, not automated, withheld in two countries."""
    body: dict[str, Any] = {
        "ground": "illegal_content",
        "legal_provision": "Art. 5 Directive (EU) 2017/541 (public provocation)",
        "explanation": "The account posted recruitment calls for a listed group.",
        "automated_detection": True,
        "automated_decision": "not_automated",
        "territorial_scope": {"type": "countries", "countries": ["de", "FR", "DE"]},
    }
    body.update(overrides)
    return body


@pytest.fixture
async def cast(world) -> dict[str, Party]:
    observer = await world.credentials("observer", scopes=["stats:read", "audit:read"])
    return {
        "agency": await party(world, "agency", country="DE"),
        "other_agency": await party(world, "agency", country="FR"),
        "platform": await party(world, "platform", platform=PLATFORM),
        "other_platform": await party(world, "platform", platform="youtube"),
        "observer": Party(observer, {"Authorization": f"Bearer {await world.token(observer)}"}),
        "operator": Party(await world.operator(), await world.admin_headers()),
    }


async def new_flag(client, cast) -> dict[str, Any]:
    resp = await client.post("/v1/flags", json=flag_body(PLATFORM), headers=cast["agency"].headers)
    assert resp.status_code == 201, resp.text
    assert resp.json()["statement"] is None
    return dict(resp.json())


async def outcome(client, cast, flag_id: str, body: dict[str, Any]):
    return await client.post(
        f"/v1/flags/{flag_id}/outcome", json=body, headers=cast["platform"].headers
    )


async def withheld_flag(client, cast, **reasons: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """A new flag closed as account_withheld_in_country with a statement; (flag, response)."""
    flag = await new_flag(client, cast)
    body = {"action": "account_withheld_in_country", "statement": statement(**reasons)}
    resp = await outcome(client, cast, flag["id"], body)
    assert resp.status_code == 200, resp.text
    return flag, dict(resp.json())


async def test_outcome_with_statement_shows_on_the_flag_and_in_the_agencys_feed(client, cast):
    flag, closed = await withheld_flag(client, cast)
    shown = closed["statement"]
    assert shown["action"] == "account_withheld_in_country"
    assert shown["decision"] == 1
    assert shown["ground"] == "illegal_content"
    assert shown["terms_clause"] is None
    assert shown["automated_detection"] is True
    # Upper-cased, de-duplicated, sorted.
    assert shown["territorial_scope"] == {"type": "countries", "countries": ["DE", "FR"]}

    read = await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)
    assert read.json()["statement"] == shown
    feed = await client.get("/v1/feed?limit=1000", headers=cast["agency"].headers)
    closed = [e for e in feed.json()["items"] if e["type"] == "flag.closed"]
    assert [e["flag"]["statement"] for e in closed] == [shown]


async def test_statement_is_optional_for_other_actions_and_global_scope_is_allowed(client, cast):
    bare = await new_flag(client, cast)
    resp = await outcome(client, cast, bare["id"], {"action": "account_suspended"})
    assert resp.status_code == 200 and resp.json()["statement"] is None
    tos = await new_flag(client, cast)
    body = statement(
        ground="terms_of_service",
        legal_provision=None,
        terms_clause="Community rules 4.2 (violent organisations)",
        automated_decision="partially",
        territorial_scope={"type": "global"},
    )
    resp = await outcome(
        client, cast, tos["id"], {"action": "account_suspended", "statement": body}
    )
    assert resp.status_code == 200, resp.text
    shown = resp.json()["statement"]
    assert shown["territorial_scope"] == {"type": "global"}
    assert shown["legal_provision"] is None and shown["terms_clause"].startswith("Community")


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("account_withheld_in_country", None, "statement"),
        (
            "account_withheld_in_country",
            statement(territorial_scope={"type": "global"}),
            "statement.territorial_scope",
        ),
        (
            "account_suspended",
            statement(territorial_scope={"type": "countries", "countries": ["DE", "XX"]}),
            "statement.territorial_scope.countries",
        ),
        (
            "account_suspended",
            statement(territorial_scope={"type": "countries", "countries": ["DEU"]}),
            "statement.territorial_scope.countries",
        ),
        (
            "account_suspended",
            statement(territorial_scope={"type": "countries", "countries": []}),
            "statement.territorial_scope.countries",
        ),
        (
            "account_suspended",
            statement(territorial_scope={"type": "countries"}),
            "statement.territorial_scope.countries",
        ),
        (
            "account_suspended",
            statement(territorial_scope={"type": "global", "countries": ["DE"]}),
            "statement.territorial_scope.countries",
        ),
        ("account_suspended", statement(legal_provision=None), "statement.legal_provision"),
        ("account_suspended", statement(terms_clause="4.2"), "statement.terms_clause"),
        (
            "account_suspended",
            statement(automated_decision="maybe"),
            "statement.automated_decision",
        ),
        ("account_suspended", statement(ground="rumour"), "statement.ground"),
        ("account_suspended", statement(extra=1), "statement.extra"),
    ],
)
async def test_invalid_statements_are_422_naming_the_field(client, cast, action, body, field):
    flag = await new_flag(client, cast)
    payload: dict[str, Any] = {"action": action}
    if body is not None:
        payload["statement"] = body
    problem = assert_problem(await outcome(client, cast, flag["id"], payload), 422)
    assert field in [e["field"] for e in problem["errors"]], problem
    # Nothing was recorded: the flag is still open, and the same item in a batch fails
    # alone with the same field.
    after = await client.get(f"/v1/flags/{flag['id']}", headers=cast["agency"].headers)
    assert after.json()["status"] == "open"
    other = await new_flag(client, cast)
    resp = await client.post(
        "/v1/outcomes/batch",
        json={
            "items": [
                {"flag_id": flag["id"], "type": "outcome", **payload},
                {"flag_id": other["id"], "type": "outcome", "action": "no_violation"},
            ]
        },
        headers=cast["platform"].headers,
    )
    assert resp.status_code == 200, resp.text
    first, second = resp.json()["results"]
    assert first["status"] == 422 and field in [e["field"] for e in first["error"]["errors"]]
    assert second["status"] == 200 and second["flag"]["status"] == "closed"


async def test_a_batch_stores_each_items_statement(client, cast):
    flags = [await new_flag(client, cast) for _ in range(3)]
    items = [
        {
            "flag_id": flags[0]["id"],
            "type": "outcome",
            "action": "account_withheld_in_country",
            "statement": statement(),
        },
        {"flag_id": flags[1]["id"], "type": "ack"},
        {
            "flag_id": flags[1]["id"],
            "type": "outcome",
            "action": "content_removed",
            "statement": statement(territorial_scope={"type": "global"}),
        },
        {"flag_id": flags[2]["id"], "type": "outcome", "action": "no_violation"},
    ]
    resp = await client.post(
        "/v1/outcomes/batch", json={"items": items}, headers=cast["platform"].headers
    )
    results = resp.json()["results"]
    assert [r["status"] for r in results] == [200, 200, 200, 200]
    # The ack is shown as it left the flag: open, without the statement of the outcome
    # after it.
    assert results[1]["flag"]["statement"] is None
    scopes = [
        r["flag"]["statement"] and r["flag"]["statement"]["territorial_scope"] for r in results
    ]
    assert scopes == [
        {"type": "countries", "countries": ["DE", "FR"]},
        None,
        {"type": "global"},
        None,
    ]


async def test_the_statement_document_as_json_and_printable_html(client, cast):
    flag, _ = await withheld_flag(client, cast, explanation="<script>alert(1)</script> & more")
    url = f"/v1/flags/{flag['id']}/statement"

    doc = await client.get(url, headers=cast["agency"].headers)
    assert doc.status_code == 200 and doc.headers["content-type"] == "application/json"
    data = doc.json()
    assert data["flag_id"] == flag["id"]
    assert data["agency"]["id"] == cast["agency"].org_id
    assert data["account"] == flag["account"]
    assert data["outcome"]["action"] == "account_withheld_in_country"
    assert data["statement"]["territorial_scope"]["countries"] == ["DE", "FR"]

    for how in ({"headers": {"Accept": "text/html"}}, {"params": {"format": "html"}}):
        hdrs = {**cast["agency"].headers, **how.get("headers", {})}
        page = await client.get(url, headers=hdrs, params=how.get("params"))
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "default-src 'none'" in page.headers["content-security-policy"]
        html = page.text
        assert flag["id"] in html and flag["account"]["handle"] in html
        assert "Germany (DE)" in html and "France (FR)" in html
        assert "Art. 5 Directive (EU) 2017/541" in html
        assert "@media print" in html
        # Autoescaped, and nothing that loads or runs anything.
        assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html
        assert "<link" not in html and "http" not in html.split("<body>")[0]

    # ?format=json wins over an Accept for HTML.
    hdrs = {**cast["agency"].headers, "Accept": "text/html"}
    assert (await client.get(url, headers=hdrs, params={"format": "json"})).json() == data


async def test_no_statement_and_no_flag_are_404(client, cast):
    open_flag = await new_flag(client, cast)
    closed = await new_flag(client, cast)
    resp = await outcome(client, cast, closed["id"], {"action": "no_violation"})
    assert resp.status_code == 200, resp.text
    for flag_id in (open_flag["id"], closed["id"], str(uuid.uuid4())):
        resp = await client.get(f"/v1/flags/{flag_id}/statement", headers=cast["agency"].headers)
        assert_problem(resp, 404)


async def test_who_may_read_a_statement(client, cast):
    flag, _ = await withheld_flag(client, cast)
    want = {
        "agency": 200,
        "other_agency": 404,
        "platform": 200,
        "other_platform": 404,
        "observer": 200,  # audit:read sees every flag
        "operator": 200,  # admin
        "none": 401,
    }
    got = {}
    for who in want:
        hdrs = {} if who == "none" else cast[who].headers
        got[who] = (await client.get(f"/v1/flags/{flag['id']}/statement", headers=hdrs)).status_code
    assert got == want


async def test_the_audit_entry_keeps_the_statement_but_its_free_text_only_by_digest(
    app, client, cast
):
    flag, _ = await withheld_flag(client, cast)
    body = statement()
    async with app.state.engine.connect() as conn:
        data = (
            await conn.execute(
                text(
                    "SELECT data FROM audit_entry WHERE object_id = :id "
                    "AND action = 'flag.outcome_recorded'"
                ),
                {"id": flag["id"]},
            )
        ).scalar_one()
        raw = (
            await conn.execute(
                text("SELECT string_agg(data::text, ' ') FROM audit_entry WHERE object_id = :id"),
                {"id": flag["id"]},
            )
        ).scalar_one()
    assert data["statement"] == {
        "ground": "illegal_content",
        "automated_detection": True,
        "automated_decision": "not_automated",
        "territorial_scope": ["DE", "FR"],
    }
    assert data["explanation_sha256"] == hashlib.sha256(body["explanation"].encode()).hexdigest()
    assert len(data["legal_provision_sha256"]) == 64
    assert body["explanation"] not in raw and body["legal_provision"] not in raw
