"""Organisation and client creation with an Idempotency-Key: a retry replays, never creates."""

from __future__ import annotations

from sqlalchemy import text

from tests.conftest import assert_problem


async def _count(app, sql: str, **params) -> int:
    async with app.state.engine.connect() as conn:
        return int((await conn.execute(text(sql), params)).scalar_one())


async def _audited(app, action: str, object_id: str) -> int:
    return await _count(
        app,
        "SELECT count(*) FROM audit_entry WHERE action = :a AND object_id = :id",
        a=action,
        id=object_id,
    )


async def test_organisation_retry_replays_the_first_answer_and_creates_once(world, client, app):
    headers = {**await world.admin_headers(), "Idempotency-Key": "org-1"}
    body = {"kind": "observer", "name": "Retried observer"}
    first = await client.post("/v1/admin/organizations", json=body, headers=headers)
    again = await client.post("/v1/admin/organizations", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    count = "SELECT count(*) FROM organization WHERE name = :n"
    assert await _count(app, count, n="Retried observer") == 1
    assert await _audited(app, "organization.created", first.json()["id"]) == 1


async def test_organisation_key_with_another_body_is_422_and_creates_nothing(world, client, app):
    headers = {**await world.admin_headers(), "Idempotency-Key": "org-2"}
    first = await client.post(
        "/v1/admin/organizations", json={"kind": "observer", "name": "One"}, headers=headers
    )
    assert first.status_code == 201
    other = await client.post(
        "/v1/admin/organizations", json={"kind": "observer", "name": "Two"}, headers=headers
    )
    assert assert_problem(other, 422)["errors"][0]["field"] == "Idempotency-Key"
    assert await _count(app, "SELECT count(*) FROM organization WHERE name = 'Two'") == 0


async def _token(client, client_id: str, secret: str) -> int:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    return (await client.post("/oauth/token", data=form)).status_code


async def test_client_retry_gives_the_same_client_a_new_secret_and_creates_once(world, client, app):
    org = await world.org("agency")
    headers = {**await world.admin_headers(), "Idempotency-Key": "client-1"}
    body = {"organization_id": org["id"], "name": "retried"}
    first = await client.post("/v1/admin/clients", json=body, headers=headers)
    again = await client.post("/v1/admin/clients", json=body, headers=headers)
    assert first.status_code == again.status_code == 201, again.text
    assert again.headers["idempotent-replayed"] == "true"
    without_secret = {k: v for k, v in first.json().items() if k != "client_secret"}
    assert {k: v for k, v in again.json().items() if k != "client_secret"} == without_secret
    assert again.json()["client_secret"] != first.json()["client_secret"]
    for resp in (first, again):
        assert resp.headers["cache-control"] == "no-store"
        assert resp.headers["pragma"] == "no-cache"
    count = "SELECT count(*) FROM api_client WHERE organization_id = :o"
    assert await _count(app, count, o=org["id"]) == 1
    client_id = first.json()["client_id"]
    assert await _audited(app, "client.created", client_id) == 1
    assert await _audited(app, "client.secret_reissued", client_id) == 1
    # The new secret works and the lost one does not.
    assert await _token(client, client_id, again.json()["client_secret"]) == 200
    assert await _token(client, client_id, first.json()["client_secret"]) == 401


async def test_no_secret_rests_in_the_idempotency_record(world, client, app):
    org = await world.org("agency")
    headers = {**await world.admin_headers(), "Idempotency-Key": "client-secret-rest"}
    body = {"organization_id": org["id"], "name": "at rest"}
    first = await client.post("/v1/admin/clients", json=body, headers=headers)
    assert first.status_code == 201
    secret = first.json()["client_secret"]
    stored = "SELECT count(*) FROM idempotency_key WHERE response::text LIKE :s"
    assert await _count(app, stored, s=f"%{secret}%") == 0


async def test_client_key_is_scoped_to_the_operator_client_that_sent_it(world, client, app):
    org = await world.org("platform")
    body = {"organization_id": org["id"], "name": "scoped"}
    mine = {**await world.admin_headers(), "Idempotency-Key": "client-2"}
    theirs = {**await world.headers("operator"), "Idempotency-Key": "client-2"}
    first = await client.post("/v1/admin/clients", json=body, headers=mine)
    other = await client.post("/v1/admin/clients", json=body, headers=theirs)
    assert first.status_code == other.status_code == 201
    assert "idempotent-replayed" not in other.headers
    assert other.json()["client_id"] != first.json()["client_id"]
    assert other.json()["client_secret"] != first.json()["client_secret"]


async def test_client_key_with_another_body_is_422_and_creates_nothing(world, client, app):
    org = await world.org("observer")
    headers = {**await world.admin_headers(), "Idempotency-Key": "client-3"}
    body = {"organization_id": org["id"], "name": "first"}
    assert (await client.post("/v1/admin/clients", json=body, headers=headers)).status_code == 201
    other = await client.post("/v1/admin/clients", json={**body, "name": "second"}, headers=headers)
    assert_problem(other, 422)
    assert "client_secret" not in other.text
    count = "SELECT count(*) FROM api_client WHERE organization_id = :o"
    assert await _count(app, count, o=org["id"]) == 1


async def test_a_failed_creation_keeps_no_key(world, client):
    """A 404 rolls the request back with its key: a retry is processed afresh, not replayed."""
    headers = {**await world.admin_headers(), "Idempotency-Key": "client-4"}
    missing = {"organization_id": "00000000-0000-4000-8000-000000000000", "name": "x"}
    assert_problem(await client.post("/v1/admin/clients", json=missing, headers=headers), 404)
    again = await client.post("/v1/admin/clients", json=missing, headers=headers)
    assert_problem(again, 404)
    assert "idempotent-replayed" not in again.headers
