"""Webhook signatures: our signer against the spec (written here) and the reference package."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
import standardwebhooks

from app.client import verify_webhook
from app.kit.webhook_signature import WebhookVerificationError, new_secret, sign_headers

BODY = '{"event_id":"42","type":"flag.created","note":"ภาษาไทย မြန်မာ"}'.encode()


def spec_signature(secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """Standard Webhooks, section "Signature scheme", written from the text."""
    key = base64.b64decode(secret.split("_", 1)[1])
    mac = hmac.new(key, msg_id.encode() + b"." + timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def test_secret_is_whsec_and_at_least_24_random_bytes():
    a, b = new_secret(), new_secret()
    assert a.startswith("whsec_") and a != b
    assert len(base64.b64decode(a.removeprefix("whsec_"))) >= 24


def test_signature_equals_the_spec_and_the_reference_verifier_accepts_it():
    secret = new_secret()
    ts = int(time.time())
    headers = sign_headers([secret], msg_id="42", timestamp=ts, body=BODY)
    assert headers["webhook-id"] == "42"
    assert headers["webhook-timestamp"] == str(ts)
    assert headers["webhook-signature"] == spec_signature(secret, "42", str(ts), BODY)
    standardwebhooks.Webhook(secret).verify(BODY, headers)
    verify_webhook(secret, headers=headers, body=BODY)


def test_during_rotation_both_secrets_verify_and_a_third_does_not():
    new, old, other = new_secret(), new_secret(), new_secret()
    headers = sign_headers([new, old], msg_id="7", timestamp=int(time.time()), body=BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        standardwebhooks.Webhook(secret).verify(BODY, headers)
        verify_webhook(secret, headers=headers, body=BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(other).verify(BODY, headers)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(other, headers=headers, body=BODY)


def test_stale_or_tampered_messages_are_rejected():
    secret = new_secret()
    stale = sign_headers([secret], msg_id="1", timestamp=int(time.time()) - 3600, body=BODY)
    with pytest.raises(WebhookVerificationError, match="timestamp"):
        verify_webhook(secret, headers=stale, body=BODY)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(BODY, stale)
    fresh = sign_headers([secret], msg_id="1", timestamp=int(time.time()), body=BODY)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers=fresh, body=BODY + b" ")
    with pytest.raises(WebhookVerificationError):
        verify_webhook(secret, headers={**fresh, "webhook-id": "2"}, body=BODY)
