"""Witnesses: every member keeps checkpoints, checks the next extends the last it saved,
co-signs it; verification says who vouches for the newest checkpoint."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.audit import checkpoints
from app.audit.sealing import seal_pending
from app.audit.witnesses import cosign
from app.auth.keys import public_jwk, thumbprint
from app.cli.witness import Inconsistent, witness_newest
from tests.conftest import assert_problem, flag_body, party


async def _activity_and_checkpoint(app, world, client) -> dict:
    agency = await party(world, "agency", country="MY")
    await party(world, "platform", platform=f"p{agency.org_id[:8]}")
    resp = await client.post(
        "/v1/flags", json=flag_body(f"p{agency.org_id[:8]}"), headers=agency.headers
    )
    assert resp.status_code == 201
    await seal_pending(app.state.sessionmaker)
    cp = await checkpoints.create_if_due(
        app.state.sessionmaker, app.state.verifier.ring, min_interval=timedelta(0), force=True
    )
    assert cp is not None
    return cp


def _jwk(key: ec.EllipticCurvePrivateKey) -> dict:
    return {**public_jwk(key.public_key()), "kid": thumbprint(key.public_key())}


async def test_every_member_kind_may_read_checkpoints(app, world, client):
    await _activity_and_checkpoint(app, world, client)
    for kind in ("agency", "platform", "observer"):
        resp = await client.get("/v1/audit/checkpoints", headers=await world.headers(kind))
        assert resp.status_code == 200 and resp.json()["items"], kind
    # A client made without the scope (and without audit:read) may not.
    narrow = await world.headers("agency", scopes=["flags:read"])
    assert_problem(await client.get("/v1/audit/checkpoints", headers=narrow), 403)
    # An observer made before the scope existed (audit:read only) keeps reading them.
    old = await world.headers("observer", scopes=["audit:read"])
    assert (await client.get("/v1/audit/checkpoints", headers=old)).status_code == 200


async def test_a_member_witnesses_checkpoints_and_verification_names_it(app, world, client):
    agency = await party(world, "agency", country="FR")
    key = ec.generate_private_key(ec.SECP256R1())
    creds = {"client_id": agency.creds.client_id, "secret": agency.creds.client_secret}

    first = await _activity_and_checkpoint(app, world, client)
    out = await witness_newest(client, key, None, **creds)
    assert out["checkpoint"] == first and out["previous_seq"] is None

    second = await _activity_and_checkpoint(app, world, client)
    out = await witness_newest(client, key, first, **creds)
    assert out["checkpoint"] == second
    assert out["previous_seq"] == first["seq"]
    assert out["leaves_checked"] == second["seq"] - first["seq"] > 0

    observer = await party(world, "observer")
    result = (await client.get("/v1/audit/verify", headers=observer.headers)).json()
    assert result["status"] == "ok", result
    assert result["witnessed_seq"] == second["seq"]
    assert [w["organization_id"] for w in result["witnesses"]] == [agency.org_id]
    assert result["witnesses"][0]["kid"] == thumbprint(key.public_key())

    actions = await _actions(app)
    assert actions.count("audit.checkpoint_cosigned") == 2
    assert actions.count("audit.witness_key_registered") == 1  # the same key again: no entry


async def test_a_checkpoint_that_does_not_extend_the_saved_one_is_not_cosigned(app, world, client):
    agency = await party(world, "agency", country="FR")
    key = ec.generate_private_key(ec.SECP256R1())
    creds = {"client_id": agency.creds.client_id, "secret": agency.creds.client_secret}
    first = await _activity_and_checkpoint(app, world, client)
    await _activity_and_checkpoint(app, world, client)
    # What the member saw before differs from what the chain now says it was.
    seen = {**first, "head_hash": "00" * 32}
    with pytest.raises(Inconsistent, match="was rewritten"):
        await witness_newest(client, key, seen, **creds)
    ahead = {**first, "seq": first["seq"] + 1000}
    with pytest.raises(Inconsistent, match="older than the saved one"):
        await witness_newest(client, key, ahead, **creds)
    assert "audit.checkpoint_cosigned" not in await _actions(app)


async def test_cosign_refuses_what_is_not_a_cosignature(app, world, client):
    cp = await _activity_and_checkpoint(app, world, client)
    agency = await party(world, "agency", country="FR")
    key = ec.generate_private_key(ec.SECP256R1())
    url = f"/v1/audit/checkpoints/{cp['seq']}/cosign"
    good = cosign(cp, key)

    problem = assert_problem(
        await client.post(url, json={"signature": good}, headers=agency.headers), 422
    )
    assert "register a witness key first" in json.dumps(problem)
    resp = await client.put(
        "/v1/audit/witness-key", json={"jwk": _jwk(key)}, headers=agency.headers
    )
    assert resp.status_code == 200 and resp.json()["kid"] == thumbprint(key.public_key())

    other = ec.generate_private_key(ec.SECP256R1())
    for bad in (cosign(cp, other), cosign({**cp, "seq": cp["seq"] + 1}, key), good[:-6] + "AAAAAA"):
        assert_problem(await client.post(url, json={"signature": bad}, headers=agency.headers), 422)
    missing = f"/v1/audit/checkpoints/{cp['seq'] + 99}/cosign"
    assert_problem(
        await client.post(missing, json={"signature": good}, headers=agency.headers), 404
    )

    assert (
        await client.post(url, json={"signature": good}, headers=agency.headers)
    ).status_code == 201
    assert (
        await client.post(url, json={"signature": good}, headers=agency.headers)
    ).status_code == 200


@pytest.mark.parametrize(
    "jwk",
    [
        {"kty": "RSA", "crv": "P-256", "x": "A" * 43, "y": "A" * 43},
        {"kty": "EC", "crv": "P-256", "x": "A" * 43, "y": "A" * 43},  # not on the curve
        "private",
    ],
)
async def test_a_witness_key_must_be_a_public_p256_key(world, client, jwk):
    if jwk == "private":
        key = ec.generate_private_key(ec.SECP256R1())
        jwk = {**_jwk(key), "d": "A" * 43}
    resp = await client.put(
        "/v1/audit/witness-key", json={"jwk": jwk}, headers=await world.headers("platform")
    )
    assert_problem(resp, 422)


async def test_witness_tables_are_append_only_and_a_forged_cosignature_is_reported(
    app, world, client
):
    agency = await party(world, "agency", country="FR")
    key = ec.generate_private_key(ec.SECP256R1())
    creds = {"client_id": agency.creds.client_id, "secret": agency.creds.client_secret}
    await _activity_and_checkpoint(app, world, client)
    await witness_newest(client, key, None, **creds)
    for statement in ("UPDATE audit_cosignature SET kid = 'x'", "DELETE FROM witness_key"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with app.state.engine.begin() as conn:
                await conn.execute(text(statement))
    # A superuser edits the stored co-signature: verification says so.
    async with app.state.engine.begin() as conn:
        await conn.execute(text("ALTER TABLE audit_cosignature DISABLE TRIGGER USER"))
        await conn.execute(text("UPDATE audit_cosignature SET signature = signature || 'x'"))
        await conn.execute(text("ALTER TABLE audit_cosignature ENABLE TRIGGER USER"))
    observer = await party(world, "observer")
    result = (await client.get("/v1/audit/verify", headers=observer.headers)).json()
    assert result["status"] == "mismatch" and "co-signature of" in result["problem"]


async def _actions(app) -> list[str]:
    async with app.state.engine.connect() as conn:
        return [r[0] for r in await conn.execute(text("SELECT action FROM audit_entry"))]
