"""A published report's signed envelope: signing with the service key, checking offline.

The stored document is the report's canonical JSON (app/kit/canonical.py). It is signed
like an audit checkpoint: a compact JWS, ES256, the signing key's `kid` in its header, made
with the service's key ring (app/auth/keys.py). The payload is the document itself, so
anyone with the JWKS (or the key history, for reports signed by a retired key) can check a
saved copy with any JOSE library, and the envelope served is

    {"report": <the document>, "signature": "<compact JWS>"}

written byte for byte from the stored bytes, so every fetch returns the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from jose import jwk, jws
from jose.backends.base import Key

from app.auth.keys import ALGORITHM, KeyRing
from app.kit.canonical import canonical_json

REPORT_TYPE = "fb-transparency-report+jws"


def sign(ring: KeyRing, document: bytes) -> str:
    """The compact JWS over a report's canonical bytes, with the signing key's kid."""
    return ring.sign_statement(document, typ=REPORT_TYPE)


def envelope(document: bytes, signature: str) -> bytes:
    """The served bytes: the canonical JSON of {"report", "signature"}, built from the
    stored document without parsing it again."""
    return b'{"report":' + document + b',"signature":' + json.dumps(signature).encode() + b"}"


def keys_from_jwks(loaded: Any) -> dict[str, Key]:
    """The keys of a JWKS (or of the key history, which has the same shape), by kid."""
    if not isinstance(loaded, dict) or not isinstance(loaded.get("keys"), list):
        raise ValueError('is not a JWKS (an object with a "keys" list)')
    keys: dict[str, Key] = {}
    for entry in loaded["keys"]:
        # Keys of another type cannot have signed a report: they are left out.
        if (
            isinstance(entry, dict)
            and isinstance(entry.get("kid"), str)
            and (entry.get("kty"), entry.get("crv")) == ("EC", "P-256")
        ):
            keys[entry["kid"]] = jwk.construct(entry, ALGORITHM)
    return keys


def verified_report(body: bytes, key_for: Callable[[str], Key | None]) -> dict[str, Any]:
    """The report in a saved envelope, once its signature and content check out.

    Raises ValueError (fit for the user) saying what is wrong: not an envelope, an
    unknown key, a signature that does not verify, or a report that differs from what was
    signed."""
    try:
        loaded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("is not JSON") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("signature"), str):
        raise ValueError('is not a signed report (no "report" and "signature")')
    report, signature = loaded.get("report"), loaded["signature"]
    if not isinstance(report, dict):
        raise ValueError('is not a signed report (no "report" object)')
    try:
        header = jws.get_unverified_header(signature)
    except Exception:
        raise ValueError("the signature is not a compact JWS") from None
    if header.get("typ") != REPORT_TYPE or header.get("alg") != ALGORITHM:
        raise ValueError(f"the signature is not an {ALGORITHM} {REPORT_TYPE}")
    key = key_for(str(header.get("kid")))
    if key is None:
        raise ValueError(f"signed by key {header.get('kid')!r}, which the keys given do not hold")
    try:
        payload = jws.verify(signature, key, algorithms=[ALGORITHM])
    except Exception:
        raise ValueError("the signature does not verify") from None
    if canonical_json(report) != payload:
        raise ValueError("the report differs from the signed document")
    return report
