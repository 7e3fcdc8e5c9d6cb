"""Administration API: organisations and clients, for operators only."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text

from tests.conftest import assert_problem

ADMIN_ROUTES = [
    ("POST", "/v1/admin/organizations", {"kind": "observer", "name": "someone"}),
    ("GET", "/v1/admin/organizations", None),
    ("POST", "/v1/admin/clients", {"organization_id": str(uuid.uuid4()), "name": "c"}),
    ("GET", "/v1/admin/clients", None),
    ("POST", f"/v1/admin/clients/{uuid.uuid4()}/revoke", None),
]


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
async def test_admin_routes_refuse_every_role_but_operator(world, client, method, path, body):
    assert_problem(await client.request(method, path, json=body), 401)
    for kind in ("agency", "platform", "observer"):
        headers = await world.headers(kind)
        resp = await client.request(method, path, json=body, headers=headers)
        assert_problem(resp, 403)
    resp = await client.request(method, path, json=body, headers=await world.admin_headers())
    assert resp.status_code in (200, 201, 404), resp.text  # 404: the random ids do not exist


async def test_create_organisation_of_each_kind(world, client):
    headers = await world.admin_headers()
    cases = [
        {"kind": "agency", "name": "Singapore ISD", "country": "sg"},
        {"kind": "platform", "name": "Twitter", "platform": "twitter"},
        {"kind": "observer", "name": "Working group"},
        {"kind": "operator", "name": "Second operator"},
    ]
    for body in cases:
        resp = await client.post("/v1/admin/organizations", json=body, headers=headers)
        assert resp.status_code == 201, resp.text
        out = resp.json()
        uuid.UUID(out["id"])
        assert out["kind"] == body["kind"]
    sg = await client.get("/v1/admin/organizations?kind=agency", headers=headers)
    assert [o["country"] for o in sg.json()["items"]] == ["SG"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "agency", "name": "a"}, "country"),
        ({"kind": "agency", "name": "a", "country": "ZZ"}, "country"),
        ({"kind": "agency", "name": "a", "country": "ID", "platform": "x"}, "platform"),
        ({"kind": "platform", "name": "p"}, "platform"),
        ({"kind": "platform", "name": "p", "platform": "Has Spaces"}, "platform"),
        ({"kind": "observer", "name": "o", "country": "ID"}, "country"),
        ({"kind": "operator", "name": "x" * 201}, "name"),
        ({"kind": "ministry", "name": "m"}, "kind"),
    ],
)
async def test_invalid_organisation_is_422_naming_the_field(world, client, body, field):
    resp = await client.post(
        "/v1/admin/organizations", json=body, headers=await world.admin_headers()
    )
    problem = assert_problem(resp, 422)
    assert field in {e["field"] for e in problem["errors"]}


async def test_duplicate_name_or_platform_is_409_and_changes_nothing(world, client, app):
    headers = await world.admin_headers()
    first = {"kind": "platform", "name": "YouTube", "platform": "youtube"}
    assert (
        await client.post("/v1/admin/organizations", json=first, headers=headers)
    ).status_code == 201
    same_slug = {"kind": "platform", "name": "YouTube 2", "platform": "youtube"}
    body = assert_problem(
        await client.post("/v1/admin/organizations", json=same_slug, headers=headers), 409
    )
    assert body["field"] == "platform"
    same_name = {"kind": "observer", "name": "YouTube"}
    body = assert_problem(
        await client.post("/v1/admin/organizations", json=same_name, headers=headers), 409
    )
    assert body["field"] == "name"
    async with app.state.engine.connect() as conn:
        count = (
            await conn.execute(text("SELECT count(*) FROM organization WHERE name LIKE 'YouTube%'"))
        ).scalar()
        audits = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM audit_entry WHERE action = 'organization.created' "
                    "AND data->>'name' LIKE 'YouTube%'"
                )
            )
        ).scalar()
    assert count == 1 and audits == 1


async def test_organisations_paginate_with_a_cursor(world, client):
    headers = await world.admin_headers()
    for i in range(5):
        await world.org("observer", name=f"obs-{i}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/admin/organizations", params=params, headers=headers)).json()
        seen += [o["id"] for o in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 6  # five observers and the operator
    assert pages == 3


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 1001}, {"cursor": "%%%"}, {"cursor": "WzFd"}]
)
async def test_bad_pagination_parameters_are_422(world, client, params):
    resp = await client.get(
        "/v1/admin/organizations", params=params, headers=await world.admin_headers()
    )
    problem = assert_problem(resp, 422)
    assert problem["errors"][0]["field"] in ("limit", "cursor")


async def test_client_gets_all_scopes_of_its_kind_by_default(world, client):
    for kind, scopes in {
        "agency": {"flags:submit", "flags:read", "feed:read", "audit:checkpoints"},
        "platform": {"feed:read", "flags:respond", "audit:checkpoints"},
        "observer": {"stats:read", "audit:read", "audit:checkpoints"},
        "operator": {"admin"},
    }.items():
        creds = await world.credentials(kind)
        assert set(creds.scopes) == scopes


async def test_client_cannot_get_scopes_outside_its_kind(world, client):
    org = await world.org("platform")
    resp = await client.post(
        "/v1/admin/clients",
        json={"organization_id": org["id"], "name": "x", "scopes": ["feed:read", "flags:submit"]},
        headers=await world.admin_headers(),
    )
    problem = assert_problem(resp, 422)
    assert problem["errors"][0]["field"] == "scopes"
    assert "flags:submit" in problem["errors"][0]["message"]


async def test_client_for_unknown_org_is_404(world, client):
    resp = await client.post(
        "/v1/admin/clients",
        json={"organization_id": str(uuid.uuid4()), "name": "x"},
        headers=await world.admin_headers(),
    )
    assert_problem(resp, 404)


async def test_secret_is_stored_only_as_argon2_hash(world, client, app):
    creds = await world.credentials("agency")
    async with app.state.engine.connect() as conn:
        stored = (
            await conn.execute(
                text("SELECT secret_hash FROM api_client WHERE id = :id"), {"id": creds.client_id}
            )
        ).scalar()
    assert stored.startswith("$argon2id$")
    assert creds.client_secret not in stored
    listed = await client.get(
        "/v1/admin/clients",
        params={"organization_id": creds.org_id},
        headers=await world.admin_headers(),
    )
    assert creds.client_secret not in listed.text and "secret" not in listed.text


async def test_revoke_stops_live_tokens_at_once_and_is_idempotent(world, client):
    creds = await world.credentials("observer")
    token = await world.token(creds)
    admin = await world.admin_headers()
    first = await client.post(f"/v1/admin/clients/{creds.client_id}/revoke", headers=admin)
    assert first.status_code == 200 and first.json()["revoked_at"]
    again = await client.post(f"/v1/admin/clients/{creds.client_id}/revoke", headers=admin)
    assert again.json()["revoked_at"] == first.json()["revoked_at"]
    # The observer's token is refused by an observer-scoped... any authenticated route.
    resp = await client.get("/v1/admin/organizations", headers={"Authorization": f"Bearer {token}"})
    assert_problem(resp, 401)


async def test_revocation_survives_a_lost_listener(world, client, app):
    """With the NOTIFY listener down, each request asks the database instead."""
    creds = await world.credentials("operator")
    token = await world.token(creds)
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/v1/admin/organizations", headers=headers)).status_code == 200
    app.state.listener.connected = False
    try:
        async with app.state.engine.begin() as conn:
            await conn.execute(
                text("UPDATE api_client SET revoked_at = now() WHERE id = :id"),
                {"id": creds.client_id},
            )
        assert_problem(await client.get("/v1/admin/organizations", headers=headers), 401)
    finally:
        app.state.listener.connected = True


async def test_admin_actions_are_audited_with_actor_and_request_id(world, client, app):
    admin = await world.admin_headers()
    operator = await world.operator()
    resp = await client.post(
        "/v1/admin/organizations",
        json={"kind": "observer", "name": "Auditors"},
        headers={**admin, "X-Request-ID": "req-audit-1"},
    )
    org_id = resp.json()["id"]
    async with app.state.engine.connect() as conn:
        row = (
            await conn.execute(
                text(
                    "SELECT actor_client_id, actor_org_id, request_id, action, data "
                    "FROM audit_entry WHERE object_id = :id"
                ),
                {"id": org_id},
            )
        ).one()
    assert str(row.actor_client_id) == operator.client_id
    assert str(row.actor_org_id) == operator.org_id
    assert row.request_id == "req-audit-1"
    assert row.action == "organization.created"
    assert row.data["name"] == "Auditors"
