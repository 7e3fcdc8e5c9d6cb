"""The platform's batch of acks and outcomes: each item on its own, by the flag rules."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import AppError, field_error, invalid
from app.feeds.dependencies import Poke
from app.flags import answers
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


def _answer(item: OutcomeBatchItem) -> answers.Answer:
    return answers.Answer(
        flag_id=item.flag_id,
        type=item.type,
        action=item.action,
        note=item.note,
        actioned_at=item.actioned_at,
        statement=item.statement,
        reconsidered=item.reconsidered,
    )


async def _with_account(
    session: AsyncSession, principal: Principal, item: OutcomeBatchItem, poke: Poke
) -> str:
    """An answer that states the account: binding may merge accounts and withdraw other
    flags, so it runs alone, through the single route's path, in a savepoint."""
    async with session.begin_nested():
        if item.type == "ack":
            flag = await flags.acknowledge(
                session=session,
                principal=principal,
                flag_id=item.flag_id,
                poke=poke,
                account=item.account,
            )
        else:
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
                statement=item.statement,
                reconsidered=item.reconsidered,
            )
    return json.dumps(flag)


def _result(index: int, flag: str | None, error: AppError | None) -> str:
    """One result as JSON text; the flag's text is the statement's own, not parsed again."""
    if error is not None:
        problem = json.dumps(error.to_problem())
        return f'{{"index":{index},"status":{error.status},"error":{problem}}}'
    return f'{{"index":{index},"status":200,"flag":{flag}}}'


async def record_batch(
    *, session: AsyncSession, principal: Principal, items: list[Any], poke: Poke
) -> str:
    """Apply the acks and outcomes in order, each succeeding or failing on its own; the
    results (one per item, in order) as the JSON text of an OutcomeBatchOut.

    Runs of items without an `account` go through `answers.answer_flags` as one set (a few
    statements per run); an item with one runs alone, between the runs around it, so every
    item sees the flags exactly as the items before it left them.
    """
    results: list[str] = [""] * len(items)
    run: list[tuple[int, OutcomeBatchItem]] = []

    async def flush() -> None:
        done = await answers.answer_flags(
            session=session, principal=principal, answers=[_answer(i) for _, i in run], poke=poke
        )
        for (index, _), answered in zip(run, done, strict=True):
            results[index] = _result(index, answered.flag, answered.error)
        run.clear()

    for index, raw in enumerate(items):
        try:
            item = _parse(raw)
            if item.account is None:
                run.append((index, item))
                continue
            if run:
                await flush()
            flag = await _with_account(session, principal, item, poke)
            results[index] = _result(index, flag, None)
        except AppError as exc:
            results[index] = _result(index, None, exc)
    if run:
        await flush()
    return '{"results":[' + ",".join(results) + "]}"
