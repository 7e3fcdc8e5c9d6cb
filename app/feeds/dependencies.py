"""Waking feed readers from a route: the process's poke, and running it after commit."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import after_commit

Poke = Callable[[Iterable[str]], None]


def feed_poke(request: Request) -> Poke:
    """The app's feed notifier: call it with organisation ids once their events committed."""
    poke: Poke = request.app.state.feed_notifier.poke
    return poke


PokeDep = Annotated[Poke, Depends(feed_poke)]


def poke_after_commit(session: AsyncSession, poke: Poke, org_ids: Iterable[str]) -> None:
    """Wake these organisations' readers once the request's transaction has committed.

    Never before: a reader woken early would re-read the feed and find nothing new.
    """
    ids = sorted({str(o) for o in org_ids})
    if ids:
        after_commit(session, lambda: poke(ids))
