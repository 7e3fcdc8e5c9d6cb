"""The token endpoint: client credentials by form or HTTP Basic, RFC 6749 §5.2 errors."""

from __future__ import annotations

import base64

from jose import jwt

from tests.conftest import assert_problem


async def test_good_credentials_return_a_bearer_token_with_the_clients_scopes(world, client):
    creds = await world.credentials("agency", country="SG")
    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert set(body["scope"].split()) == {
        "flags:submit",
        "flags:read",
        "feed:read",
        "audit:checkpoints",
    }
    assert resp.headers["cache-control"] == "no-store"
    claims = jwt.get_unverified_claims(body["access_token"])
    header = jwt.get_unverified_header(body["access_token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert claims["sub"] == creds.client_id
    assert claims["org"] == creds.org_id
    assert claims["country"] == "SG"
    for claim in ("iss", "aud", "exp", "iat", "nbf", "jti"):
        assert claim in claims


async def test_http_basic_credentials_work(world, client):
    creds = await world.credentials("platform")
    basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert resp.status_code == 200, resp.text
    assert set(resp.json()["scope"].split()) == {"feed:read", "flags:respond", "audit:checkpoints"}


async def test_requested_scope_narrows_the_token(world, client):
    creds = await world.credentials("agency")
    token = await world.token(creds, scope="flags:read")
    assert jwt.get_unverified_claims(token)["scope"] == "flags:read"


async def test_scope_not_granted_is_invalid_scope(world, client):
    creds = await world.credentials("agency")
    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scope": "admin",
        },
    )
    body = assert_problem(resp, 400)
    assert body["error"] == "invalid_scope"


async def test_bad_secret_is_invalid_client(world, client):
    creds = await world.credentials("agency")
    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret + "x",
        },
    )
    body = assert_problem(resp, 401)
    assert body["error"] == "invalid_client"


async def test_unknown_client_is_invalid_client(client):
    for client_id in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        resp = await client.post(
            "/oauth/token",
            data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": "s"},
        )
        assert assert_problem(resp, 401)["error"] == "invalid_client"


async def test_revoked_client_cannot_get_a_token(world, client):
    creds = await world.credentials("observer")
    resp = await client.post(
        f"/v1/admin/clients/{creds.client_id}/revoke", headers=await world.admin_headers()
    )
    assert resp.status_code == 200
    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        },
    )
    assert assert_problem(resp, 401)["error"] == "invalid_client"


async def test_wrong_or_missing_grant_type(world, client):
    creds = await world.credentials("agency")
    base = {"client_id": creds.client_id, "client_secret": creds.client_secret}
    resp = await client.post("/oauth/token", data={**base, "grant_type": "password"})
    assert assert_problem(resp, 400)["error"] == "unsupported_grant_type"
    resp = await client.post("/oauth/token", data=base)
    assert assert_problem(resp, 400)["error"] == "invalid_request"


async def test_jwks_lists_the_signing_key(world, client):
    creds = await world.credentials("agency")
    token = await world.token(creds)
    resp = await client.get("/.well-known/jwks.json")
    assert resp.status_code == 200
    kids = {k["kid"] for k in resp.json()["keys"]}
    assert jwt.get_unverified_header(token)["kid"] in kids
    assert all(
        k["kty"] == "EC" and k["crv"] == "P-256" and "d" not in k for k in resp.json()["keys"]
    )


async def test_overlong_parameters_are_invalid_request(client):
    resp = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "client_id": "x" * 5000, "client_secret": "s"},
    )
    assert assert_problem(resp, 400)["error"] == "invalid_request"
