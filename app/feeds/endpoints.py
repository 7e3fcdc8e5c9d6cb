"""`GET /v1/feed`."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from app.auth.dependencies import FeedReadDep
from app.auth.principal import Principal
from app.errors import AUTH_ERRORS, problem_responses
from app.feeds import service
from app.feeds.schemas import FeedPage
from app.kit.pagination import CursorParam, LimitParam

router = APIRouter(tags=["feed"], responses=problem_responses(*AUTH_ERRORS))


@router.get("/v1/feed", response_model=FeedPage, responses=problem_responses(410, 429))
async def read_feed(
    request: Request,
    principal: FeedReadDep,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
    wait: Annotated[
        float, Query(ge=0, le=30, description="Long-poll: seconds to wait for a first event")
    ] = 0,
) -> Response:
    """Your organisation's events in a stable order; following next_cursor from the start
    delivers every event exactly once. Platforms: the first time a flag reaches you here it
    is marked delivered."""
    async with contextlib.AsyncExitStack() as held:
        if wait > 0:
            # The fleet-wide cap (app/ratelimit); the per-process one in FeedWaiters stays
            # as the bound of this process's memory.
            limiter = request.app.state.rate_limits
            await held.enter_async_context(limiter.long_poll_slot(principal, wait))
        page = await _read(request, principal, cursor, limit, wait)
    # The page is JSON text already (built once, in SQL): sent as it is.
    return Response(page, media_type="application/json")


async def _read(
    request: Request, principal: Principal, cursor: str | None, limit: int, wait: float
) -> str:
    state = request.app.state
    return await service.read_feed(
        sessionmaker=state.sessionmaker,
        waiters=state.feed_waiters,
        principal=principal,
        cursor=cursor,
        limit=limit,
        wait=wait,
        retention_days=state.settings.feed_retention_days,
        max_waiters=state.settings.feed_max_waiters_per_client,
        disconnected=request.is_disconnected,
    )
