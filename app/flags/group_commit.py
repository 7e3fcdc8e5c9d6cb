"""Group commit for single submissions.

Under load many agencies' submissions arrive at once. Each one alone costs a round trip and
a commit (a WAL flush). Instead, submissions that arrive while earlier ones are still at the
database wait for the next statement and go together: one call of
`fb_submit_flag_requests`, one transaction, one flush; inside it, the group's new flags are
written set-based like a batch (fb_submit_flags in app/flags/sql/submit.sql), one INSERT
per table for the group. Nothing waits on a timer: an idle
server sends a lone submission at once, so latency is unchanged when there is no queue.

Each item keeps its own idempotency key, tenancy and answer. Items of one group share a
transaction, so if the statement fails as a whole (a unique-index race lost to another
process, or anything unexpected) no item is committed, and every item is then submitted on
its own, which isolates the one at fault. This keeps "a failed request changes nothing".

Before queueing, each flag's account is reduced to canonical keys with its platform's
identity profile (app/identity), cached per process: cheap string work, no round trip.
If the profile changed meanwhile, the statement says so and the item is computed again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg

from app.errors import AppError, database_unavailable, unavailable
from app.identity.service import ProfileDirectory, identity_of

log = logging.getLogger(__name__)

_GROUP_SQL = (
    "SELECT item, status, body, replayed, notify, flag_id, retry_profile "
    "FROM fb_submit_flag_requests("
    "$1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6, $7::text[], $8::text[],"
    " $9::text[])"
)


@dataclass(frozen=True, slots=True)
class Submission:
    """One request's arguments to fb_submit_flag_requests (one element of each array).

    `flag` is the validated body as a JSON object; `platform` and `account` are its members
    of those names, given apart so that the hot path does not parse the body again.
    """

    org_id: object
    client_id: object
    country: str | None
    flag: str
    idempotency_key: str | None
    request_hash: str
    request_id: str | None
    client_ip: str | None
    platform: str
    account: dict[str, Any]


Result = tuple[int, str, bool, list[str], str | None]
# A result, and whether the item must be computed again with a fresh profile.
_Answer = tuple[Result, bool]


class GroupCommitter:
    """Queues submissions and sends them in groups, at most `max_in_flight` at a time."""

    def __init__(
        self, pool: asyncpg.Pool, *, route: str, max_group: int = 64, max_in_flight: int = 2
    ) -> None:
        self.pool = pool
        self.route = route
        self.max_group = max_group
        self.max_in_flight = max_in_flight
        self.profiles = ProfileDirectory(pool)
        # Each queued item with its body as sent: the flag with its identity.
        self._queue: list[tuple[Submission, str, asyncio.Future[_Answer]]] = []
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def submit(self, item: Submission) -> Result:
        """Submit one flag; returns (status, body, replayed, notify org ids, flag id)."""
        for _ in range(3):
            profile = await self.profiles.profile_of(item.platform)
            try:
                identity = identity_of(profile, item.account)
            except AppError as exc:
                return exc.status, json.dumps(exc.to_problem()), False, [], None
            result, stale = await self._queued(item, _with_identity(item.flag, identity))
            if not stale:
                return result
            await self.profiles.forget()
        return result

    async def _queued(self, item: Submission, flag: str) -> _Answer:
        future: asyncio.Future[_Answer] = asyncio.get_running_loop().create_future()
        self._queue.append((item, flag, future))
        if self._in_flight < self.max_in_flight:
            self._in_flight += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        group: list[tuple[Submission, str, asyncio.Future[_Answer]]] = []
        try:
            while self._queue:
                group = self._queue[: self.max_group]
                del self._queue[: self.max_group]
                await self._send(group)
                group = []
        except BaseException as exc:
            # Cancelled (shutdown) or broken: never leave a request waiting forever.
            for _, _, future in group:
                if not future.done():
                    # Not the error's text: asyncpg's carries the server's DETAIL (data).
                    error = (
                        unavailable()
                        if database_unavailable(exc)
                        else RuntimeError("submission not completed")
                    )
                    error.__cause__ = exc
                    future.set_exception(error)
            if self._in_flight == 1:
                for _, _, future in self._queue:
                    if not future.done():
                        future.set_exception(RuntimeError("server is shutting down"))
                self._queue.clear()
            raise
        finally:
            self._in_flight -= 1

    async def _send(self, group: list[tuple[Submission, str, asyncio.Future[_Answer]]]) -> None:
        items = [g[0] for g in group]
        try:
            rows = await self.pool.fetch(
                _GROUP_SQL,
                [i.org_id for i in items],
                [i.client_id for i in items],
                [i.country for i in items],
                [g[1] for g in group],
                [i.idempotency_key for i in items],
                self.route,
                [i.request_hash for i in items],
                [i.request_id for i in items],
                [i.client_ip for i in items],
            )
        except Exception as exc:
            if database_unavailable(exc):
                # One by one would only knock on a closed door 64 times more: all get 503.
                for _, _, future in group:
                    if not future.done():
                        future.set_exception(unavailable())
                return
            if len(group) > 1:
                log.info("group submission failed; submitting its items one by one")
            for item, flag, future in group:
                await self._send_alone(item, flag, future)
            return
        for row in rows:
            future = group[row["item"] - 1][2]
            if not future.done():
                future.set_result(_answer(row))

    async def _send_alone(
        self, item: Submission, flag: str, future: asyncio.Future[_Answer]
    ) -> None:
        for attempt in range(3):
            try:
                rows = await self.pool.fetch(
                    _GROUP_SQL,
                    [item.org_id],
                    [item.client_id],
                    [item.country],
                    [flag],
                    [item.idempotency_key],
                    self.route,
                    [item.request_hash],
                    [item.request_id],
                    [item.client_ip],
                )
            except asyncpg.UniqueViolationError:
                # Lost a race to a concurrent transaction; the retry sees its committed row.
                if attempt < 2:
                    continue
                if not future.done():
                    future.set_exception(
                        RuntimeError("submission kept conflicting with concurrent ones")
                    )
                return
            except Exception as exc:
                if not future.done():
                    future.set_exception(unavailable() if database_unavailable(exc) else exc)
                return
            if not future.done():
                future.set_result(_answer(rows[0]))
            return


def _with_identity(flag: str, identity: dict[str, Any]) -> str:
    """The flag's JSON object with its `identity` member added, without parsing it again."""
    return f'{flag[:-1]},"identity":{json.dumps(identity, separators=(",", ":"))}}}'


def _answer(row: asyncpg.Record) -> _Answer:
    notify = row["notify"].split(",") if row["notify"] else []
    result = (row["status"], row["body"], row["replayed"], notify, row["flag_id"])
    return result, bool(row["retry_profile"])
