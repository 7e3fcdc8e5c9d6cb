"""POST /v1/flags is called by the middleware past the router: it must answer as any route."""

from __future__ import annotations

import json

import pytest

from tests.conftest import assert_problem, flag_body, party


@pytest.fixture
async def agency(world):
    await party(world, "platform", platform="twitter")
    return await party(world, "agency", country="ID")


async def test_submission_is_logged_and_counted_under_its_route(client, agency, caplog):
    from app.observability import HTTP_REQUESTS, JsonFormatter

    counted = HTTP_REQUESTS.labels("POST", "/v1/flags", "201")
    before = counted._value.get()
    caplog.set_level("INFO", logger="flagbridge.access")
    resp = await client.post(
        "/v1/flags",
        json=flag_body("twitter"),
        headers={**agency.headers, "X-Request-ID": "direct-1"},
    )
    assert resp.status_code == 201, resp.text
    # The middleware's own headers still reach a response the route sent directly.
    assert resp.headers["x-request-id"] == "direct-1"
    assert resp.headers["ratelimit"].startswith('"writes"')
    records = [r for r in caplog.records if r.name == "flagbridge.access"]
    line = json.loads(JsonFormatter().format(records[-1]))
    assert (line["route"], line["status"]) == ("/v1/flags", 201)
    assert counted._value.get() == before + 1


async def test_database_errors_raised_by_the_route_are_rendered_by_the_apps_handlers(
    app, client, agency, monkeypatch
):
    async def refused(item):
        raise ConnectionRefusedError("database is away")

    monkeypatch.setattr(app.state.submissions, "submit", refused)
    resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    # OSError's handler (the database is unreachable), found through the exception's MRO.
    assert_problem(resp, 503)
    assert "retry-after" in resp.headers


async def test_a_request_is_authenticated_once(app, client, agency, monkeypatch):
    verifier = app.state.verifier
    calls = []
    verify = verifier.verify_async

    async def counting(token):
        calls.append(token)
        return await verify(token)

    monkeypatch.setattr(verifier, "verify_async", counting)
    resp = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    assert resp.status_code == 201, resp.text
    assert len(calls) == 1
    # A route behind the scope dependency reuses the middleware's principal too.
    resp = await client.get("/v1/flags", headers=agency.headers)
    assert resp.status_code == 200, resp.text
    assert len(calls) == 2
