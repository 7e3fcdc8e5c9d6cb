"""What every transition of a flag leaves behind, for one flag or a set of them.

A transition writes the flag's history event, the `flag.<event>` feed event for the other
side (when there is one to tell) and the audit entry (free text only by hash). `leave_behind`
writes them for any number of transitions in one statement, in the order given, so a
single route and a batch of a thousand leave exactly the same rows behind.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.db import after_commit
from app.flags import transition_repository as repo
from app.observability import FLAG_TRANSITIONS

Poke = Callable[[list[str]], None]

FEED_TYPES = {
    "acknowledged": "flag.acknowledged",
    "info_requested": "flag.info_requested",
    "info_provided": "flag.info_provided",
    "outcome": "flag.closed",
    "withdrawn": "flag.withdrawn",
    "contested": "flag.contested",
}
AUDIT_ACTIONS = {
    "acknowledged": "flag.acknowledged",
    "info_requested": "flag.info_requested",
    "info_provided": "flag.info_provided",
    "outcome": "flag.outcome_recorded",
    "withdrawn": "flag.withdrawn",
    "contested": "flag.contested",
}


@dataclass(frozen=True)
class Step:
    """One transition of one flag: from which status to which, and what it tells whom."""

    flag_id: uuid.UUID
    old: str
    new: str
    event: str
    event_data: dict[str, Any] = field(default_factory=dict)
    tell: uuid.UUID | None = None
    feed_data: dict[str, Any] = field(default_factory=dict)
    audit_data: dict[str, Any] = field(default_factory=dict)
    audit_free_text: dict[str, str | None] = field(default_factory=dict)


def poke_after_commit(session: AsyncSession, poke: Poke | None, orgs: list[uuid.UUID]) -> None:
    """Wake these organisations' feed readers once the transaction commits."""
    if poke is not None and orgs:
        ids = sorted({str(o) for o in orgs})
        after_commit(session, lambda: poke(ids))


async def leave_behind(
    *, session: AsyncSession, actor: Principal, steps: list[Step], poke: Poke | None = None
) -> None:
    """History events, feed events and audit entries of `steps` (already applied to their
    flags), each set in the steps' order, in one statement."""
    if not steps:
        return
    history = [{"flag_id": s.flag_id, "type": s.event, "data": s.event_data} for s in steps]
    feed = [
        {
            "recipient": s.tell,
            "type": FEED_TYPES[s.event],
            "flag_id": s.flag_id,
            "data": s.feed_data,
        }
        for s in steps
        if s.tell is not None
    ]
    entries = [
        audit.entry(
            actor=actor,
            action=AUDIT_ACTIONS[s.event],
            object_type="flag",
            object_id=s.flag_id,
            data={"from": s.old, "to": s.new, **s.audit_data},
            free_text=s.audit_free_text,
        )
        for s in steps
    ]
    await repo.write_transition_rows(
        session, actor=actor, history=history, feed=feed, audit_entries=entries
    )
    counts = Counter(s.event for s in steps)

    def count() -> None:
        for event, n in counts.items():
            FLAG_TRANSITIONS.labels(event).inc(n)

    after_commit(session, count)
    poke_after_commit(session, poke, [s.tell for s in steps if s.tell is not None])
