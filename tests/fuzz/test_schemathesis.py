"""Schemathesis against the served API, with every role's token: the contract holds.

Every operation is fuzzed with every check schemathesis has (server errors, statuses,
content types, headers and bodies against the OpenAPI document, negative data that must be
refused, undeclared methods, Allow headers, stateful links), through a real `flagbridge
serve` with an organisation of every kind and a few flags. The run is seeded, so a failure
reproduces; `make fuzz` runs the same test with many more examples (FUZZ_EXAMPLES).

One check is left out: `positive_data_acceptance` expects every schema-valid request to
be accepted, and some inputs cannot be described by a JSON schema: an opaque cursor, a
signature that must verify, a key that must be a point on the curve. Those are refused
with 422, as they should be.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PgServer, create_test_database, drop_test_database, flag_body
from tests.hardening.served import UNLIMITED_RATES, ServedApp, served, server_env

# One worker runs every role against the module's one served app (make test's --dist loadgroup).
pytestmark = pytest.mark.xdist_group("fuzz")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
SEED = int(os.environ.get("FUZZ_SEED", "20261130"))
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))
# The operator goes last: it may revoke clients and deactivate organisations on its way.
ROLES = ["agency", "platform", "observer", "operator"]


@pytest.fixture(scope="module")
def fuzzed_server(
    pg_server: PgServer, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServedApp, dict[str, str]]]:
    """The API served on its own database, with a token for each role and a few flags."""
    name = asyncio.run(create_test_database(pg_server, template_db))
    data_dir = tmp_path_factory.mktemp("fuzz")
    # With the default budgets each role's token ran out within seconds and most operations were
    # fuzzed only as far as a 429 (schemathesis warned "Rate limited"), which also slowed the
    # run. Lifted, every case reaches its operation; tests/ratelimit holds 429 on each of them.
    env = server_env(data_dir, pg_server.url(name), **UNLIMITED_RATES)
    try:
        with served(env, log=data_dir / "serve.log") as app:
            tokens = app.roles(platform="fuzzed")
            agency = {"Authorization": f"Bearer {tokens['agency']}"}
            # Something for the platform's feed and the list routes to show.
            for _ in range(3):
                resp = httpx.post(
                    app.base_url + "/v1/flags", json=flag_body("fuzzed"), headers=agency
                )
                assert resp.status_code == 201, resp.text
            yield app, tokens
    finally:
        asyncio.run(drop_test_database(pg_server, name))


@pytest.mark.parametrize("role", ROLES)
def test_every_operation_keeps_the_contract_under_fuzzing(
    fuzzed_server: tuple[ServedApp, dict[str, str]], role: str, tmp_path: Path
) -> None:
    app, tokens = fuzzed_server
    command = [
        SCHEMATHESIS,
        "--config-file",
        str(Path(__file__).with_name("schemathesis.toml")),
        "run",
        app.base_url + "/openapi.json",
        "--header",
        f"Authorization: Bearer {tokens[role]}",
        "--checks",
        "all",
        "--exclude-checks",
        "positive_data_acceptance",
        # No timed assertions in tests: this only catches a request that hangs.
        "--max-response-time",
        "45",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--generation-database",
        "none",
        "--no-color",
        "--report-dir",
        str(tmp_path),
    ]
    # Run in the test's own folder: schemathesis keeps a cache of past failures in its working
    # directory and replays them first, which would make one run depend on the last.
    done = subprocess.run(
        command, cwd=tmp_path, capture_output=True, text=True, timeout=1800, check=False
    )
    output = done.stdout + done.stderr
    # The failures section names each operation, the failed check and a curl to replay it.
    failures = output[output.find("FAILURES") :] if "FAILURES" in output else output[-6000:]
    assert done.returncode == 0, f"schemathesis as {role}:\n{failures[:20000]}"
    # Every operation of the document was reached, not skipped by an error while loading it.
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    assert selected is not None, output[-3000:]
    assert selected[1] == selected[2] == selected[3], selected[0]
    # ... and reached, not refused by a rate limit before it was looked at.
    assert "Rate limited" not in output, output[output.find("Rate limited") :][:3000]
