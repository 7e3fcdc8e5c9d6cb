"""Client secrets are hashed with OWASP's argon2id minimum unless a test suite asks otherwise.

The suite's fixtures hash with argon2's smallest parameters (`argon2_profile="test"`,
tests/conftest.py); these tests hold the service's default to the production parameters
and show that the setting is what decides, and that nothing but FLAGBRIDGE_ENV=test may
lower it.
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from app.config import Settings

# The parameter string argon2 writes into every hash: memory KiB, passes, lanes.
PARAMETERS = {"owasp": "m=19456,t=2,p=1", "test": "m=8,t=1,p=1"}


@pytest.fixture(params=sorted(PARAMETERS))
def settings(settings: Settings, request: pytest.FixtureRequest) -> Settings:
    """The shared test settings with one hash profile or the other."""
    return settings.model_copy(update={"argon2_profile": request.param})


async def test_new_secrets_carry_the_configured_parameters_and_verify(settings, world, app):
    creds = await world.credentials("agency")
    query = text("SELECT secret_hash FROM api_client WHERE id = :id")
    async with app.state.engine.connect() as conn:
        stored = await conn.scalar(query, {"id": creds.client_id})
    assert stored.startswith(f"$argon2id$v=19${PARAMETERS[settings.argon2_profile]}$")
    assert await world.token(creds)


def test_the_service_defaults_to_owasp_parameters(monkeypatch):
    monkeypatch.delenv("FLAGBRIDGE_ARGON2_PROFILE", raising=False)
    monkeypatch.delenv("FLAGBRIDGE_ENV", raising=False)
    assert Settings().argon2_profile == "owasp"


@pytest.mark.parametrize("env", ["development", "production"])
def test_cheap_hashes_are_refused_outside_tests(env):
    with pytest.raises(ValidationError, match="ARGON2_PROFILE"):
        Settings(env=env, argon2_profile="test", database_url="postgresql://x/y",
                 issuer="https://flagbridge.example")  # fmt: skip
