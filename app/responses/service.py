"""The platform's batch of acks and outcomes: each item on its own, by the flag rules."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import AppError, field_error, invalid
from app.feeds.dependencies import Poke
from app.flags import service as flags
from app.responses.schemas import OutcomeBatchItem


def _parse(raw: Any) -> OutcomeBatchItem:
    try:
        item = OutcomeBatchItem.model_validate(raw)
    except ValidationError as exc:
        raise invalid(exc) from None
    if item.type == "outcome" and item.action is None:
        raise field_error("action", "required for an outcome")
    return item


async def _answer(
    session: AsyncSession, principal: Principal, item: OutcomeBatchItem, poke: Poke
) -> dict[str, Any]:
    if item.type == "ack":
        return await flags.acknowledge(
            session=session,
            principal=principal,
            flag_id=item.flag_id,
            poke=poke,
            account=item.account,
        )
    assert item.action is not None
    flag, _ = await flags.record_outcome(
        session=session,
        principal=principal,
        flag_id=item.flag_id,
        action=item.action,
        note=item.note,
        actioned_at=item.actioned_at,
        poke=poke,
        account=item.account,
    )
    return flag


async def record_batch(
    *, session: AsyncSession, principal: Principal, items: list[Any], poke: Poke
) -> list[dict[str, Any]]:
    """Apply each ack or outcome in its own savepoint; one result per item, in order.

    A failing item rolls back only its savepoint, so the others still commit with the
    request's transaction.
    """
    results: list[dict[str, Any]] = []
    for index, raw in enumerate(items):
        try:
            item = _parse(raw)
            async with session.begin_nested():
                flag = await _answer(session, principal, item, poke)
        except AppError as exc:
            results.append({"index": index, "status": exc.status, "error": exc.to_problem()})
            continue
        results.append({"index": index, "status": 200, "flag": flag})
    return results
