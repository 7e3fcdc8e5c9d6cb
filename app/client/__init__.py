"""A typed Python client of the FlagBridge API (sync and async), and the webhook verifier."""

from app.kit.webhook_signature import WebhookVerificationError
from app.kit.webhook_signature import verify as verify_webhook

__all__ = ["WebhookVerificationError", "verify_webhook"]
