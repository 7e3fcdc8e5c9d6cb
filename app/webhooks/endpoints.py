"""`/v1/webhook`: an organisation's push endpoint, its secret and its deliveries."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from app.auth.dependencies import FeedReadDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.kit.no_store import no_store
from app.kit.pagination import CursorParam, LimitParam
from app.webhooks import service
from app.webhooks.schemas import DeliveryPage, WebhookIn, WebhookOut, WebhookSecret

router = APIRouter(prefix="/v1/webhook", tags=["feed"], responses=problem_responses(*AUTH_ERRORS))


@router.put("", response_model=WebhookSecret)
async def set_webhook(
    body: WebhookIn,
    request: Request,
    response: Response,
    principal: FeedReadDep,
    session: SessionDep,
) -> WebhookSecret:
    """Push every event of your feed to this URL too, signed per Standard Webhooks. Returns
    a new signing secret, shown only now; a replaced secret still signs for a day."""
    settings = request.app.state.settings
    no_store(response)
    return await service.set_webhook(
        session=session,
        principal=principal,
        url=body.url,
        production=settings.env == "production",
        allow_private=settings.webhook_allow_private,
        overlap_seconds=settings.webhook_secret_overlap_seconds,
    )


@router.get("", response_model=WebhookOut, responses=problem_responses(404))
async def get_webhook(principal: FeedReadDep, session: SessionDep) -> WebhookOut:
    """Your webhook: its URL and whether deliveries are running."""
    return await service.get_webhook(session=session, principal=principal)


@router.delete("", status_code=204, responses=problem_responses(404))
async def delete_webhook(principal: FeedReadDep, session: SessionDep) -> None:
    """Stop pushing; pending deliveries are dropped (the feed still has every event)."""
    await service.delete_webhook(session=session, principal=principal)


@router.post("/rotate-secret", response_model=WebhookSecret, responses=problem_responses(404))
async def rotate_webhook_secret(
    request: Request, response: Response, principal: FeedReadDep, session: SessionDep
) -> WebhookSecret:
    """A new signing secret, shown only now; until `previous_secret_expires_at` every
    delivery carries a signature by each secret."""
    no_store(response)
    return await service.rotate_secret(
        session=session,
        principal=principal,
        overlap_seconds=request.app.state.settings.webhook_secret_overlap_seconds,
    )


@router.get("/deliveries", response_model=DeliveryPage)
async def list_webhook_deliveries(
    principal: FeedReadDep,
    session: SessionDep,
    cursor: CursorParam = None,
    limit: LimitParam = 100,
) -> DeliveryPage:
    """Recent deliveries, newest first: attempts, last status code or error, next attempt."""
    return await service.list_deliveries(
        session=session, principal=principal, cursor=cursor, limit=limit
    )
