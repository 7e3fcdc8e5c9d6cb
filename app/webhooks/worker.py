"""Delivering the outbox: claim due rows, POST them signed, record what happened.

Runs inside every `serve` process (a periodic job) and as `flagbridge worker`; any number
at once, because claims are leases taken with SKIP LOCKED (app/webhooks/repository.py).
No transaction is open while an endpoint is called.

What an answer means: 2xx delivered (and, for a platform, the flag's first hand-over, as
the feed does it); 410 disables the webhook; 429 retries after `Retry-After`; anything
else (another status, a timeout, a refused address) retries with exponential back-off and
jitter, and an event still failing after the retry window disables the webhook.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import service as audit
from app.auth.principal import Principal
from app.config import Settings
from app.feeds import service as feeds
from app.kit.clock import utc_now
from app.kit.http import retry_after_seconds
from app.kit.webhook_signature import sign_headers
from app.webhooks import repository as repo
from app.webhooks import urls

log = logging.getLogger(__name__)

BATCH = 20
RESPONSE_CAP = 4096
"""Bytes of an answer read at most (kept as the error text of a failure)."""
WORKER_LABEL = "webhook delivery"


@dataclass(frozen=True, slots=True)
class Answer:
    """What one attempt got: a status code, or an error before any answer."""

    status_code: int | None
    error: str | None = None
    retry_after: float | None = None


def backoff_seconds(attempt: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Delay before the retry after `attempt` failures: doubling from base, capped, with
    +-20% jitter so endpoints that recover are not hit by every retry at once."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return float(delay * (0.8 + 0.4 * rng.random()))


def _principal(claim: dict[str, Any]) -> Principal:
    """The organisation as the feed would see it, acting through the client that set the
    webhook (the actor of the hand-over's history and audit entries)."""
    return Principal(
        client_id=claim["set_by_client_id"],
        org_id=claim["org_id"],
        kind=claim["kind"],
        country=claim["country"],
        platform=claim["platform"],
        scopes=frozenset(),
    )


class DeliveryWorker:
    """Claims and delivers due webhook deliveries; `run_once` is one pass."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: Settings,
        *,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.settings = settings
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.transport = transport

    async def run_once(self) -> int:
        """Claim one batch and deliver it; returns how many were claimed."""
        async with self.sessionmaker() as session, session.begin():
            claims = await repo.claim_due(
                session, limit=BATCH, lease_seconds=self.settings.webhook_lease_seconds
            )
            await self._prepare(session, claims)
        if not claims:
            return 0
        async with httpx.AsyncClient(
            timeout=self.settings.webhook_timeout_seconds,
            follow_redirects=False,
            transport=self.transport,
        ) as client:
            answers = await asyncio.gather(*(self._send(client, c) for c in claims))
        for claim, answer in zip(claims, answers, strict=True):
            async with self.sessionmaker() as session, session.begin():
                await self._record(session, claim, answer)
        return len(claims)

    async def drain(self) -> int:
        """Deliver until nothing is due; returns how many were claimed in all."""
        total = 0
        while n := await self.run_once():
            total += n
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Deliver until stop is set, looking for due work every poll interval."""
        while not stop.is_set():
            try:
                claimed = await self.run_once()
            except Exception:
                log.warning("webhook delivery pass failed", exc_info=True)
                claimed = 0
            if not claimed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.webhook_poll_seconds)

    async def _prepare(self, session: AsyncSession, claims: list[dict[str, Any]]) -> None:
        """Render the body of first attempts as the feed shows the event, and keep it."""
        fresh = [c for c in claims if c["payload"] is None]
        if not fresh:
            return
        events = {
            e["id"]: e for e in await repo.events(session, event_ids=[c["event_id"] for c in fresh])
        }
        for claim in fresh:
            event = events.get(claim["event_id"])
            if event is None:
                continue  # past the feed's retention; _record marks it failed
            (item,) = await feeds.render_events(session, _principal(claim), [event])
            claim["payload"] = json.dumps(item, separators=(",", ":"), ensure_ascii=False)
            await repo.save_payload(session, delivery_id=claim["id"], payload=claim["payload"])

    async def _send(self, client: httpx.AsyncClient, claim: dict[str, Any]) -> Answer:
        """One signed POST to the checked address; never raises."""
        if claim["payload"] is None:
            return Answer(None, "the event is no longer in the feed")
        try:
            target = await urls.resolve(
                claim["url"],
                production=self.settings.env == "production",
                allow_private=self.settings.webhook_allow_private,
            )
        except urls.UrlRefused as exc:
            return Answer(None, f"URL refused: {exc}")
        body = claim["payload"].encode()
        secrets_ = [claim["secret"]] + (
            [claim["previous_secret"]] if claim["previous_secret"] else []
        )
        headers = sign_headers(
            secrets_, msg_id=str(claim["event_id"]), timestamp=int(time.time()), body=body
        )
        headers |= {"content-type": "application/json", "host": target.host_header}
        try:
            async with client.stream(
                "POST",
                target.pinned_url(),
                content=body,
                headers=headers,
                extensions={"sni_hostname": target.host},
            ) as response:
                text = await _read_capped(response)
        except httpx.HTTPError as exc:
            return Answer(None, f"{type(exc).__name__}: {exc}"[:500])
        code = response.status_code
        if 200 <= code < 300:
            return Answer(code)
        return Answer(
            code,
            f"HTTP {code}: {text}"[:500],
            retry_after_seconds(response.headers.get("retry-after")) if code == 429 else None,
        )

    async def _record(self, session: AsyncSession, claim: dict[str, Any], answer: Answer) -> None:
        """Write the attempt's result and what follows from it (see the module's note)."""
        code = answer.status_code
        if code is not None and 200 <= code < 300:
            if (
                await repo.record_attempt(
                    session,
                    delivery_id=claim["id"],
                    attempt=claim["attempts"],
                    status="delivered",
                    status_code=code,
                    error=None,
                    retry_in_seconds=None,
                )
                and claim["kind"] == "platform"
                and claim["subject_id"]
                and '"flag":' in claim["payload"]
            ):
                await feeds.mark_delivered(
                    session,
                    principal=_principal(claim),
                    flag_ids=[claim["subject_id"]],
                    via="webhook",
                )
            return
        settings = self.settings
        delay = answer.retry_after
        if delay is None:
            delay = backoff_seconds(
                claim["attempts"],
                base=settings.webhook_retry_base_seconds,
                cap=settings.webhook_retry_max_seconds,
                rng=self.rng,
            )
        age = (utc_now() - claim["created_at"]).total_seconds() + delay
        give_up = (
            code == 410 or claim["payload"] is None or age > settings.webhook_retry_window_seconds
        )
        recorded = await repo.record_attempt(
            session,
            delivery_id=claim["id"],
            attempt=claim["attempts"],
            status="failed" if give_up else "pending",
            status_code=code,
            error=answer.error,
            retry_in_seconds=None if give_up else delay,
        )
        if recorded and give_up and claim["payload"] is not None:
            reason = (
                "the endpoint answered 410 Gone"
                if code == 410
                else "deliveries failed for the whole retry window"
            )
            await self._disable(session, claim, reason)

    async def _disable(self, session: AsyncSession, claim: dict[str, Any], reason: str) -> None:
        """Stop delivering to the organisation's webhook, audited."""
        if await repo.disable(session, org_id=claim["org_id"], reason=reason):
            await audit.record(
                session=session,
                actor=None,
                actor_label=WORKER_LABEL,
                action="webhook.disabled",
                object_type="webhook",
                object_id=claim["org_id"],
                data={"reason": reason, "event_id": str(claim["event_id"])},
            )


async def _read_capped(response: httpx.Response) -> str:
    """The start of an answer's body; the rest is never read (nor held in memory)."""
    chunks = b""
    async for chunk in response.aiter_bytes():
        chunks += chunk
        if len(chunks) >= RESPONSE_CAP:
            break
    return chunks[:RESPONSE_CAP].decode("utf-8", "replace")
