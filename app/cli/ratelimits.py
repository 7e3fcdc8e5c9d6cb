"""`flagbridge rate-limits ...`: an organisation's budgets per client (audited)."""

from __future__ import annotations

import argparse
import uuid

from pydantic import ValidationError

from app.cli.common import cli_actor, command, emit, fail, group, in_transaction
from app.config import get_settings
from app.errors import AppError, field_error, invalid
from app.ratelimit import policies
from app.ratelimit.schemas import RateLimitsOut, RateLimitsUpdate


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the rate-limits command group."""
    rl_sub = group(sub, "rate-limits", help="an organisation's rate limits per client")
    show = command(rl_sub, "show", rate_limits_show, help="show what applies to an organisation")
    show.add_argument("org_id", help="organisation id")
    put = command(
        rl_sub,
        "set",
        rate_limits_set,
        help="set an organisation's budgets (an option left out means the default)",
        description="Replace an organisation's overrides; every running process applies "
        "them within FLAGBRIDGE_RATE_POLICY_REFRESH_SECONDS. Audited.",
    )
    put.add_argument("org_id", help="organisation id")
    put.add_argument("--writes", type=int, help="writes per client per minute")
    put.add_argument("--reads", type=int, help="reads per client per minute")
    put.add_argument("--long-poll-waiters", type=int, help="long-polls per client at once")


def _org_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise field_error("org_id", "not a UUID") from exc


def _summary(out: RateLimitsOut) -> str:
    limits, set_ = out.effective, out.overrides
    rows = [
        ("writes per minute", limits.writes_per_minute, set_.writes_per_minute),
        ("reads per minute", limits.reads_per_minute, set_.reads_per_minute),
        ("long-poll waiters", limits.long_poll_waiters, set_.long_poll_waiters),
    ]
    return "\n".join(
        f"{name:<18} {value:>8}  {'(set)' if mine is not None else '(default)'}"
        for name, value, mine in rows
    )


def rate_limits_show(args: argparse.Namespace) -> int:
    """Show an organisation's budgets."""
    cache = policies.PolicyCache(get_settings())
    try:
        org_id = _org_id(args.org_id)
        out = in_transaction(lambda s: policies.show(session=s, cache=cache, org_id=org_id))
    except AppError as err:
        return fail(args, err)
    emit(args, out.model_dump(mode="json"), _summary(out))
    return 0


def rate_limits_set(args: argparse.Namespace) -> int:
    """Replace an organisation's budgets."""
    cache = policies.PolicyCache(get_settings())
    try:
        org_id = _org_id(args.org_id)
        try:
            update = RateLimitsUpdate(
                writes_per_minute=args.writes,
                reads_per_minute=args.reads,
                long_poll_waiters=args.long_poll_waiters,
            )
        except ValidationError as exc:
            raise invalid(exc) from exc
        out = in_transaction(
            lambda s: policies.set_limits(
                session=s,
                cache=cache,
                actor=None,
                actor_label=cli_actor(),
                org_id=org_id,
                update=update,
            )
        )
    except AppError as err:
        return fail(args, err)
    emit(args, out.model_dump(mode="json"), _summary(out))
    return 0
