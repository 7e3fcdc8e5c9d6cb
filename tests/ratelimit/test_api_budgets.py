"""Budgets per client on the API (writes, reads, long-polls), shared by every process, and the
operators' overrides per organisation. Production defaults unless an override is the point."""

from __future__ import annotations

import json

from sqlalchemy import text

from app.main import create_app
from tests.cli.test_cli import cli
from tests.conftest import assert_problem, flag_body, party
from tests.ratelimit.conftest import DEFAULTS, http_client


async def limit(client, world, org_id: str, **budgets) -> dict:
    resp = await client.put(
        f"/v1/admin/organizations/{org_id}/rate-limits",
        json=budgets,
        headers=await world.admin_headers(),
    )
    assert resp.status_code == 200, resp.text
    return resp.json()


async def test_every_answer_to_a_limited_route_tells_its_budget(world, client, clock):
    await party(world, "platform", platform="twitter")
    agency = await party(world, "agency")
    read = await client.get("/v1/flags", headers=agency.headers)
    assert read.status_code == 200
    assert read.headers["RateLimit-Policy"] == f'"reads";q={DEFAULTS["rate_reads_per_minute"]};w=60'
    assert read.headers["RateLimit"] == f'"reads";r={DEFAULTS["rate_reads_per_minute"] - 1};t=40'
    write = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    assert (
        write.headers["RateLimit-Policy"] == f'"writes";q={DEFAULTS["rate_writes_per_minute"]};w=60'
    )
    # Public routes are not limited per client and say nothing of budgets.
    assert "RateLimit" not in (await client.get("/healthz")).headers


async def test_writes_over_budget_are_refused_until_the_window_ends(world, client, clock):
    await party(world, "platform", platform="twitter")
    agency = await party(world, "agency")
    other = await party(world, "agency")
    await limit(client, world, agency.org_id, writes_per_minute=3)

    statuses = [
        (
            await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
        ).status_code
        for _ in range(5)
    ]
    assert statuses == [201, 201, 201, 429, 429]
    refused = await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    body = assert_problem(refused, 429)
    assert body["type"] == "urn:flagbridge:problem:rate-limited"
    assert refused.headers["Retry-After"] == "40"
    assert refused.headers["RateLimit-Policy"] == '"writes";q=3;w=60'
    assert refused.headers["RateLimit"] == '"writes";r=0;t=40'

    # Reads have their own budget; other organisations' clients theirs.
    assert (await client.get("/v1/flags", headers=agency.headers)).status_code == 200
    assert (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=other.headers)
    ).status_code == 201

    clock.advance(40)
    assert (
        await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    ).status_code == 201


async def test_the_budget_holds_across_workers(
    app, world, client, clock, second_worker, response_checker
):
    agency = await party(world, "agency")
    await limit(client, world, agency.org_id, reads_per_minute=5)
    # The second worker learns the override on its next refresh; make that now.
    await second_worker.state.rate_limits.policies.refresh(second_worker.state.sessionmaker)
    async with http_client(second_worker, response_checker) as other_worker:
        workers = [client, other_worker]
        statuses = [
            (await workers[i % 2].get("/v1/flags", headers=agency.headers)).status_code
            for i in range(8)
        ]
    assert statuses.count(200) == 5, statuses
    assert statuses.count(429) == 3, statuses


async def test_long_polls_are_capped_across_workers(
    app, world, client, clock, second_worker, response_checker
):
    platform = await party(world, "platform")
    await limit(client, world, platform.org_id, long_poll_waiters=1)
    await second_worker.state.rate_limits.policies.refresh(second_worker.state.sessionmaker)
    principal = await _principal(app, platform.headers)
    async with app.state.rate_limits.long_poll_slot(principal, 30):
        async with http_client(second_worker, response_checker) as other_worker:
            refused = await other_worker.get("/v1/feed?wait=1", headers=platform.headers)
        assert_problem(refused, 429)
        assert refused.headers["Retry-After"] == "1"
        # A plain read does not wait, and is not capped.
        assert (await client.get("/v1/feed", headers=platform.headers)).status_code == 200
    assert (await client.get("/v1/feed?wait=0.05", headers=platform.headers)).status_code == 200
    async with app.state.engine.connect() as conn:
        held = await conn.execute(text("SELECT count(*) FROM rate_limit_waiter"))
        assert held.scalar() == 0  # every slot was given back


async def _principal(app, headers):
    from starlette.requests import Request

    from app.auth.principal import authenticate

    scope = {
        "type": "http",
        "app": app,
        "headers": [(b"authorization", headers["Authorization"].encode())],
    }
    return await authenticate(Request(scope))


async def test_operators_set_and_clear_overrides(world, client, clock):
    agency = await party(world, "agency")
    admin = await world.admin_headers()
    url = f"/v1/admin/organizations/{agency.org_id}/rate-limits"
    shown = (await client.get(url, headers=admin)).json()
    assert shown["effective"] == {
        "writes_per_minute": DEFAULTS["rate_writes_per_minute"],
        "reads_per_minute": DEFAULTS["rate_reads_per_minute"],
        "long_poll_waiters": DEFAULTS["rate_long_poll_waiters"],
    }
    assert shown["overrides"] == {
        "writes_per_minute": None,
        "reads_per_minute": None,
        "long_poll_waiters": None,
    }
    out = await limit(client, world, agency.org_id, reads_per_minute=7)
    assert out["effective"]["reads_per_minute"] == 7
    assert (await client.get(url, headers=admin)).json()["overrides"]["reads_per_minute"] == 7
    read = await client.get("/v1/flags", headers=agency.headers)
    assert read.headers["RateLimit-Policy"] == '"reads";q=7;w=60'

    await limit(client, world, agency.org_id)  # all null: back to the defaults
    read = await client.get("/v1/flags", headers=agency.headers)
    assert read.headers["RateLimit-Policy"] == f'"reads";q={DEFAULTS["rate_reads_per_minute"]};w=60'

    missing = "00000000-0000-0000-0000-000000000000"
    assert_problem(
        await client.put(f"/v1/admin/organizations/{missing}/rate-limits", json={}, headers=admin),
        404,
    )
    assert_problem(await client.put(url, json={"reads_per_minute": 0}, headers=admin), 422)
    assert_problem(await client.get(url, headers=agency.headers), 403)


async def test_cli_sets_and_shows_overrides(world, client, database_url, tmp_path):
    agency = await party(world, "agency")
    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(["rate-limits", "set", agency.org_id, "--writes", "30", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["effective"]["writes_per_minute"] == 30
    res = await cli(["rate-limits", "show", agency.org_id], **opts)
    assert res.returncode == 0, res.stderr
    assert "writes per minute        30  (set)" in res.stdout
    res = await cli(["rate-limits", "set", agency.org_id, "--reads", "0"], **opts)
    assert res.returncode != 0
    async with client._transport.app.state.engine.connect() as conn:  # type: ignore[attr-defined]
        actions = await conn.execute(
            text(
                "SELECT actor_label FROM audit_entry WHERE action = 'organization.rate_limits_set'"
            )
        )
        assert [r[0].startswith("cli:") for r in actions] == [True]


def test_429_is_documented_on_every_limited_operation():
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            limited = "security" in operation or path == "/oauth/token"
            assert ("429" in operation["responses"]) == limited, (method, path)
