"""Witnesses: members that keep checkpoints, check each new one extends the last they saw,
and co-sign it (as Certificate Transparency witnesses do).

A co-signature is a compact JWS (ES256, `kid` = the RFC 7638 thumbprint of the member's
registered key) over the checkpoint's statement: `{"seq", "head_hash", "signed_at", "kid"}`
where `kid` is the service key that signed the checkpoint. The service verifies it on
arrival and again on every verification, against the key the member registered; keys and
co-signatures are append-only, so a member's old co-signatures stay checkable after it
registers a new key.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws
from jose.backends.cryptography_backend import CryptographyECKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.audit.checkpoints import as_json, signature_problem
from app.auth.keys import ALGORITHM, KeyRing, public_jwk, thumbprint
from app.auth.principal import Principal
from app.errors import Conflict, NotFound, field_error
from app.kit.clock import rfc3339

COSIGNATURE_TYPE = "fb-audit-cosignature+jws"


def statement(checkpoint: dict[str, Any]) -> dict[str, Any]:
    """What a witness signs: the checkpoint's fields and the service key that signed it."""
    return {name: checkpoint[name] for name in ("seq", "head_hash", "signed_at", "kid")}


def cosign(checkpoint: dict[str, Any], private_key: ec.EllipticCurvePrivateKey) -> str:
    """The compact JWS a witness sends for a checkpoint (the member's side)."""
    return str(
        jws.sign(
            statement(checkpoint),
            CryptographyECKey(private_key, ALGORITHM),
            headers={"kid": thumbprint(private_key.public_key()), "typ": COSIGNATURE_TYPE},
            algorithm=ALGORITHM,
        )
    )


def _b64_int(value: Any) -> int:
    if not isinstance(value, str) or not 40 <= len(value) <= 44:
        raise ValueError("x and y must be base64url coordinates of 32 bytes")
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    if len(raw) != 32:
        raise ValueError("x and y must be base64url coordinates of 32 bytes")
    return int.from_bytes(raw, "big")


def public_key_of(jwk: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    """The EC P-256 public key a JWK describes; ValueError (fit for the client) if it is
    not one, or carries a private part."""
    if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
        raise ValueError("must be an EC P-256 key (kty EC, crv P-256)")
    if "d" in jwk:
        raise ValueError("must be the public key only: never send the private part (d)")
    numbers = ec.EllipticCurvePublicNumbers(
        _b64_int(jwk.get("x")), _b64_int(jwk.get("y")), ec.SECP256R1()
    )
    try:
        return numbers.public_key()
    except ValueError:
        raise ValueError("is not a point on P-256") from None


async def register_key(
    *, session: AsyncSession, principal: Principal, jwk: dict[str, Any]
) -> dict[str, Any]:
    """Make jwk the organisation's witness key (a new key is audited; the same key again
    changes nothing)."""
    try:
        key = public_key_of(jwk)
    except ValueError as exc:
        raise field_error("jwk", str(exc)) from None
    kid = thumbprint(key)
    clean = {**public_jwk(key), "kid": kid, "alg": ALGORITHM, "use": "sig"}
    row = (
        await session.execute(
            text(
                "INSERT INTO witness_key (organization_id, kid, jwk) "
                "VALUES (:org, :kid, CAST(:jwk AS jsonb)) ON CONFLICT DO NOTHING "
                "RETURNING registered_at"
            ),
            {"org": principal.org_id, "kid": kid, "jwk": json.dumps(clean)},
        )
    ).first()
    if row is not None:
        await audit.record(
            session=session,
            actor=principal,
            action="audit.witness_key_registered",
            object_type="witness_key",
            object_id=kid,
            data={"organization_id": str(principal.org_id)},
        )
    current = await _current_key(session, principal)
    assert current is not None
    if current["kid"] != kid:
        # Going back to a replaced key would make "the newest key" ambiguous in history.
        raise Conflict("This key was registered before and replaced; generate a new one")
    return current


async def _current_key(session: AsyncSession, principal: Principal) -> dict[str, Any] | None:
    """The organisation's newest witness key."""
    row = await _first(
        session,
        "SELECT organization_id, kid, jwk, registered_at FROM witness_key "
        "WHERE organization_id = :org ORDER BY id DESC LIMIT 1",
        org=principal.org_id,
    )
    if row is None:
        return None
    return {**row, "registered_at": rfc3339(row["registered_at"])}


def cosignature_problem(
    signature: str, checkpoint: dict[str, Any], jwk: dict[str, Any]
) -> str | None:
    """Why signature is not a witness's co-signature of checkpoint with jwk (None if it is)."""
    try:
        header = jws.get_unverified_header(signature)
        payload = json.loads(
            jws.verify(signature, CryptographyECKey(public_key_of(jwk), ALGORITHM), [ALGORITHM])
        )
    except Exception:
        return "the signature does not verify with the organisation's witness key"
    if header.get("kid") != jwk.get("kid"):
        return "the JWS header's kid is not the organisation's witness key"
    if payload != statement(checkpoint):
        return "the signed statement is not this checkpoint's (seq, head_hash, signed_at, kid)"
    return None


async def record_cosignature(
    *, session: AsyncSession, principal: Principal, ring: KeyRing, seq: int, signature: str
) -> tuple[dict[str, Any], bool]:
    """Verify and keep a witness's co-signature of the checkpoint at seq (audited). Returns
    it and whether it is new (the same co-signature again is accepted once more)."""
    found = await _checkpoint_at(session, seq)
    if found is None:
        raise NotFound(f"No checkpoint at seq {seq}")
    checkpoint_id, checkpoint = found
    if signature_problem(checkpoint, ring) is not None:
        raise NotFound(f"No valid checkpoint at seq {seq}")
    key = await _current_key(session, principal)
    if key is None:
        raise field_error("signature", "register a witness key first (PUT /v1/audit/witness-key)")
    problem = cosignature_problem(signature, checkpoint, key["jwk"])
    if problem is not None:
        raise field_error("signature", problem)
    inserted = (
        await session.execute(
            text(
                "INSERT INTO audit_cosignature (checkpoint_id, organization_id, kid, signature) "
                "VALUES (:cp, :org, :kid, :sig) ON CONFLICT DO NOTHING RETURNING id"
            ),
            {"cp": checkpoint_id, "org": principal.org_id, "kid": key["kid"], "sig": signature},
        )
    ).first()
    if inserted is not None:
        await audit.record(
            session=session,
            actor=principal,
            action="audit.checkpoint_cosigned",
            object_type="audit_checkpoint",
            object_id=str(seq),
            data={"kid": key["kid"], "head_hash": checkpoint["head_hash"]},
        )
    mine = [w for w in await cosignatures(session, checkpoint_id) if w["kid"] == key["kid"]]
    mine = [w for w in mine if w["organization_id"] == principal.org_id]
    return {**mine[0], "seq": seq}, inserted is not None


async def _first(session: AsyncSession, sql: str, **params: Any) -> dict[str, Any] | None:
    """The first row of a query as a dict (None if there is none)."""
    row = (await session.execute(text(sql), params)).mappings().first()
    return dict(row) if row is not None else None


async def _checkpoint_at(session: AsyncSession, seq: int) -> tuple[int, dict[str, Any]] | None:
    row = await _first(
        session,
        "SELECT id, position, head_hash, signed_at, kid, signature "
        "FROM audit_checkpoint WHERE position = :p ORDER BY id DESC LIMIT 1",
        p=seq,
    )
    return (row["id"], as_json(row)) if row is not None else None


async def cosignatures(session: AsyncSession, checkpoint_id: int) -> list[dict[str, Any]]:
    """A checkpoint's co-signatures with their organisations and the keys they used."""
    rows = await session.execute(
        text(
            "SELECT c.organization_id, o.name AS organization_name, o.kind, c.kid, "
            "c.signature, c.created_at, k.jwk FROM audit_cosignature c "
            "JOIN organization o ON o.id = c.organization_id "
            "LEFT JOIN witness_key k ON k.organization_id = c.organization_id AND k.kid = c.kid "
            "WHERE c.checkpoint_id = :cp ORDER BY c.id"
        ),
        {"cp": checkpoint_id},
    )
    return [
        {**r, "cosigned_at": rfc3339(r["created_at"])} for r in (dict(m) for m in rows.mappings())
    ]


async def vouching(session: AsyncSession) -> tuple[dict[str, Any], str | None]:
    """Who vouches for the newest checkpoint, each co-signature verified again; and the
    first stored co-signature that does not verify (someone wrote it into the table)."""
    newest = (await session.execute(text("SELECT max(position) FROM audit_checkpoint"))).scalar()
    if newest is None:
        return {"witnessed_seq": None, "witnesses": []}, None
    found = await _checkpoint_at(session, int(newest))
    assert found is not None
    checkpoint_id, checkpoint = found
    witnesses: list[dict[str, Any]] = []
    for row in await cosignatures(session, checkpoint_id):
        problem = (
            "its key was never registered"
            if row["jwk"] is None
            else cosignature_problem(row["signature"], checkpoint, row["jwk"])
        )
        if problem is not None:
            return (
                {"witnessed_seq": newest, "witnesses": witnesses},
                f"co-signature of {row['organization_name']} at seq {newest}: {problem}",
            )
        witnesses.append(
            {
                "organization_id": str(row["organization_id"]),
                "organization_name": row["organization_name"],
                "kind": row["kind"],
                "kid": row["kid"],
                "cosigned_at": row["cosigned_at"],
            }
        )
    return {"witnessed_seq": newest, "witnesses": witnesses}, None
