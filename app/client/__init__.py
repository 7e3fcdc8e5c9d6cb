"""A typed Python client of the FlagBridge API (sync and async), and the webhook verifier.

from app.client import FlagBridgeClient, FileCursorStore
with FlagBridgeClient("https://flagbridge.example", CLIENT_ID, CLIENT_SECRET) as fb:
    for item in fb.feed(store=FileCursorStore(Path("feed.cursor"))):
        ...
"""

from app.client.aio import AsyncFlagBridgeClient
from app.client.core import ApiError, CursorStore, FileCursorStore
from app.client.sync import FlagBridgeClient
from app.kit.webhook_signature import WebhookVerificationError
from app.kit.webhook_signature import verify as verify_webhook

__all__ = [
    "ApiError",
    "AsyncFlagBridgeClient",
    "CursorStore",
    "FileCursorStore",
    "FlagBridgeClient",
    "WebhookVerificationError",
    "verify_webhook",
]
