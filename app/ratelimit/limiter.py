"""The limiter of one process: API budgets per client, the token endpoint's guards, and the
fleet-wide cap on long-polls. Lives on `app.state.rate_limits`."""

from __future__ import annotations

import contextlib
import hashlib
import math
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.principal import Principal
from app.config import Settings
from app.errors import RateLimited
from app.ratelimit import repository
from app.ratelimit.counter import SharedCounter
from app.ratelimit.decision import Decision
from app.ratelimit.policies import PolicyCache

WINDOW_SECONDS = 60
"""Every budget is counted per minute (fixed windows)."""
WRITES, READS, TOKEN_ADDRESS = "writes", "reads", "token-address"
# A long-poll's slot outlives its wait by this much, so a process that dies mid-wait frees
# its clients' slots soon after, and a live one always releases it first.
_SLOT_GRACE = timedelta(seconds=10)


class Limiter:
    """Rate limits of this process, with their state shared through PostgreSQL."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.policies = PolicyCache(settings)
        self.counter = SharedCounter(sessionmaker, flush_seconds=settings.rate_flush_seconds)

    @property
    def clock(self) -> float:
        """Now, in epoch seconds, from the clock the counters use (tests move it)."""
        return self.counter.clock()

    def now(self) -> datetime:
        """Now as a UTC datetime, from the same clock."""
        return datetime.fromtimestamp(self.clock, UTC)

    async def start(self) -> None:
        """Read the overrides and start the flusher."""
        await self.counter.start()
        with contextlib.suppress(Exception):
            # Without the database the defaults apply until the next refresh.
            await self.policies.refresh(self.sessionmaker)

    async def stop(self) -> None:
        """Send the last counts."""
        await self.counter.stop()

    async def admit_call(self, principal: Principal, *, writes: bool) -> Decision:
        """Count an API request of a client against its writes or reads budget."""
        limits = self.policies.of(principal.org_id)
        bucket, quota = (
            (WRITES, limits.writes_per_minute) if writes else (READS, limits.reads_per_minute)
        )
        return await self.counter.hit(
            bucket=bucket, key=str(principal.client_id), quota=quota, window_seconds=WINDOW_SECONDS
        )

    async def admit_token_request(self, address: str) -> Decision:
        """Count a token request from a source address."""
        return await self.counter.hit(
            bucket=TOKEN_ADDRESS,
            key=address,
            quota=self.settings.rate_token_per_address_per_minute,
            window_seconds=WINDOW_SECONDS,
        )

    async def check_backoff(self, session: AsyncSession, client_id: str) -> None:
        """429 if this client id is backing off after failed token requests."""
        state = await repository.backoff_of(session, _backoff_key(client_id))
        if state is None or state[1] is None:
            return
        wait = (state[1] - self.now()).total_seconds()
        if wait > 0:
            raise RateLimited(
                "Too many failed token requests for this client; try again later",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )

    async def count_failure(self, session: AsyncSession, client_id: str) -> float:
        """Count a failed token request; the back-off it starts, in seconds (0: none yet).

        The first `rate_token_free_failures` cost nothing; then each failure doubles the
        wait, from `rate_token_backoff_base_seconds` up to `rate_token_backoff_max_seconds`.
        Failures are forgotten after a quiet `rate_token_failure_window_seconds` past the
        last failure or back-off, and at once by a success.
        """
        s = self.settings
        now = self.now()
        key = _backoff_key(client_id)
        failures = await repository.count_failure(
            session,
            key=key,
            now=now,
            forget_before=now - timedelta(seconds=s.rate_token_failure_window_seconds),
        )
        over = failures - s.rate_token_free_failures
        if over <= 0:
            return 0.0
        delay = min(
            s.rate_token_backoff_base_seconds * 2 ** min(over - 1, 60),
            s.rate_token_backoff_max_seconds,
        )
        await repository.block_until(session, key=key, until=now + timedelta(seconds=delay))
        return delay

    async def forget_failures(self, session: AsyncSession, client_id: str) -> None:
        """A client authenticated: its failures are forgiven."""
        await repository.forget_failures(session, _backoff_key(client_id))

    @contextlib.asynccontextmanager
    async def long_poll_slot(self, principal: Principal, wait: float) -> AsyncIterator[None]:
        """Hold one of the client's long-poll slots (fleet-wide) while it waits; else 429."""
        limit = self.policies.of(principal.org_id).long_poll_waiters
        slot = uuid.uuid4()
        now = self.now()
        async with self.sessionmaker() as session, session.begin():
            taken = await repository.take_waiter_slot(
                session,
                slot=slot,
                client_id=principal.client_id,
                limit=limit,
                now=now,
                expires_at=now + timedelta(seconds=wait) + _SLOT_GRACE,
            )
        if not taken:
            raise RateLimited(
                f"This client already has {limit} long-polls waiting",
                headers={
                    "Retry-After": "1",
                    "RateLimit-Policy": f'"long-poll";q={limit}',
                    "RateLimit": '"long-poll";r=0;t=1',
                },
            )
        try:
            yield
        finally:
            # If the database went away meanwhile, the slot expires on its own; the answer
            # the client waited for is not worth losing over it.
            with contextlib.suppress(Exception):
                async with self.sessionmaker() as session, session.begin():
                    await repository.release_waiter_slot(session, slot)

    async def prune(self) -> None:
        """Delete state older than any window, back-off or long-poll can last."""
        horizon = timedelta(seconds=max(3600.0, 2 * self.settings.rate_token_backoff_max_seconds))
        async with self.sessionmaker() as session, session.begin():
            await repository.prune(session, before=self.now() - horizon)


def _backoff_key(client_id: str) -> str:
    """The client id as sent, hashed: unknown ids of any length are limited too, in a key of
    fixed size."""
    return hashlib.sha256(client_id.encode()).hexdigest()[:32]
