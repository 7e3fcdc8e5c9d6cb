"""The server shortens Python's GIL switch interval at start-up (app/kit/gil.py): a thread
that seals the audit log or hashes a secret keeps requests waiting at most that long."""

from __future__ import annotations

import sys

import pytest

from app.config import Settings
from app.main import create_app


@pytest.fixture
def restore_switch_interval():
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


async def test_the_server_applies_the_configured_switch_interval(
    settings: Settings, database_url: str, restore_switch_interval
):
    sys.setswitchinterval(0.005)  # Python's default
    tuned = settings.model_copy(update={"gil_switch_interval_ms": 0.7})
    application = create_app(tuned, database_url=database_url)
    async with application.router.lifespan_context(application):
        assert sys.getswitchinterval() == pytest.approx(0.0007)


def test_the_default_is_a_tenth_of_pythons():
    assert Settings().gil_switch_interval_ms == 0.5


@pytest.mark.parametrize("value", [0, -1, 101])
def test_an_unreasonable_interval_is_refused(value: float):
    with pytest.raises(ValueError, match="gil_switch_interval_ms"):
        Settings(gil_switch_interval_ms=value)
