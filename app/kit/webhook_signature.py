"""Standard Webhooks signatures (https://www.standardwebhooks.com): signing and verifying.

The one implementation: the delivery worker signs with it and the typed client's verifier
(app/client) checks with it. It uses only the standard library, so receivers can copy the
client without the service.

A secret is `whsec_` + base64 of the key bytes. A signature is
`v1,` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")); during a rotation the header
holds one signature per secret, separated by spaces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Iterable, Mapping

PREFIX = "whsec_"
TOLERANCE_SECONDS = 300
"""How far a timestamp may be from the receiver's clock (replay protection)."""


class WebhookVerificationError(Exception):
    """The request is not a fresh, correctly signed webhook from the holder of the secret."""


def new_secret(nbytes: int = 32) -> str:
    """A fresh signing secret (`whsec_` + base64 of random bytes)."""
    return PREFIX + base64.b64encode(secrets.token_bytes(nbytes)).decode()


def _key(secret: str) -> bytes:
    raw = secret.removeprefix(PREFIX)
    try:
        return base64.b64decode(raw, validate=True)
    except ValueError as exc:
        raise WebhookVerificationError("not a whsec_ secret") from exc


def signature(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of one message under one secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(
    secrets_: Iterable[str], *, msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three Standard Webhooks headers, signed by every given secret."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets_
        ),
    }


def verify(
    secret: str,
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> None:
    """Raise WebhookVerificationError unless one signature is the secret's and it is fresh."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        msg_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
        sent = lower["webhook-signature"].split()
    except (KeyError, ValueError) as exc:
        raise WebhookVerificationError("missing or malformed webhook headers") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        raise WebhookVerificationError("timestamp outside the tolerance")
    expected = signature(secret, msg_id=msg_id, timestamp=timestamp, body=body)
    if not any(hmac.compare_digest(expected, s) for s in sent):
        raise WebhookVerificationError("no matching signature")
