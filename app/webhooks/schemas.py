"""Request and response models of webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.kit.schemas import StrictModel

WebhookStatus = Literal["active", "disabled"]
DeliveryStatus = Literal["pending", "delivered", "failed"]


class WebhookIn(StrictModel):
    """Where to push your feed events (https in production; no private addresses)."""

    url: str = Field(min_length=8, max_length=2048, examples=["https://tns.example.com/hooks"])


class WebhookOut(BaseModel):
    """Your webhook (the secret is shown only when it is made)."""

    url: str
    status: WebhookStatus = Field(
        description="`disabled` after a 410 answer or a whole retry window of failures; "
        "set the webhook again (PUT) to resume"
    )
    disabled_reason: str | None
    disabled_at: datetime | None
    previous_secret_expires_at: datetime | None = Field(
        description="Until then the previous secret also signs (a second signature)"
    )
    created_at: datetime
    updated_at: datetime


class WebhookSecret(WebhookOut):
    """Your webhook and its new signing secret: store it now, it is never shown again."""

    secret: str = Field(description="`whsec_` + base64 key (Standard Webhooks)")


class Delivery(BaseModel):
    """One feed event on its way to your webhook."""

    event_id: str = Field(description="The feed's event_id; also the `webhook-id` header")
    status: DeliveryStatus
    attempts: int
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    last_attempt_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When pending: the next attempt")
    delivered_at: datetime | None


class DeliveryPage(BaseModel):
    """Deliveries, newest first; follow next_cursor (null at the end)."""

    items: list[Delivery]
    next_cursor: str | None
