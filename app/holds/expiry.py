"""How far ahead a hold may reach: the one check of a new expiry, for creation and renewal.

Imports nothing of the holds' services, so that app/holds/service.py (creation) and
app/holds/governance.py (renewal) can both call it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from app.errors import field_error
from app.holds.schemas import MAX_HOLD_DAYS


def check_expiry(expires_at: datetime, *, now: datetime, current: datetime | None = None) -> None:
    """A new expiry is in the future (later than the current one, for a renewal) and at most
    MAX_HOLD_DAYS ahead of now: a renewal gets the same 90 days as a creation, no more."""
    if current is None and expires_at <= now:
        raise field_error("expires_at", "must be in the future")
    if current is not None and expires_at <= current:
        raise field_error("expires_at", "must be later than the hold's current expiry")
    if expires_at > now + timedelta(days=MAX_HOLD_DAYS):
        raise field_error("expires_at", f"must be at most {MAX_HOLD_DAYS} days ahead")
