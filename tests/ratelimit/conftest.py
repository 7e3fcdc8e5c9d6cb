"""Rate-limit tests run with the service's real default budgets, and a clock they move."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from app.config import Settings
from app.main import create_app
from tests.openapi_check import ResponseChecker

DEFAULTS = {
    name: field.default for name, field in Settings.model_fields.items() if name.startswith("rate_")
}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The shared test settings, but every rate limit at its production default."""
    return settings.model_copy(update=DEFAULTS)


class Clock:
    """A clock the test moves by hand (epoch seconds)."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        """Now."""
        return self.now

    def advance(self, seconds: float) -> None:
        """Move time forward."""
        self.now += seconds


@pytest.fixture
def clock(app: Any) -> Clock:
    """The app's rate-limit clock, frozen at the start of a minute."""
    start = Clock(1_899_999_980.0)  # 20 s into a minute
    app.state.rate_limits.counter.clock = start
    return start


@pytest_asyncio.fixture
async def second_worker(settings: Settings, database_url: str, clock: Clock) -> AsyncIterator[Any]:
    """Another process of the service on the same database (its own limiter, same clock)."""
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        application.state.rate_limits.counter.clock = clock
        yield application


def http_client(
    app: Any, checker: ResponseChecker, address: str = "127.0.0.1"
) -> httpx.AsyncClient:
    """A client calling app from a source address, checking responses against the document."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(address, 5000))
    hooks = {"response": [checker.check_response]}
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", event_hooks=hooks)
