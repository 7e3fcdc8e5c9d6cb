"""The `flagbridge` command end to end, against the test's own database."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import assert_problem

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    args: list[str], *, database_url: str, data_dir: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `flagbridge ARGS` in a subprocess with the test's database (and extra env)."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLAGBRIDGE_DATA_DIR": str(data_dir),
        "FLAGBRIDGE_MIGRATIONS_DIR": str(ROOT / "alembic"),
        **(env or {}),
    }
    return subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )


async def cli(args: list[str], **kw) -> subprocess.CompletedProcess[str]:
    """run_cli without blocking the event loop (the app under test keeps serving)."""
    return await asyncio.to_thread(run_cli, args, **kw)


async def test_org_client_token_call_revoke_end_to_end(client, database_url, tmp_path):
    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(["org", "create", "--kind", "operator", "--name", "Ops", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    org = json.loads(res.stdout)
    assert org["kind"] == "operator"

    res = await cli(["client", "create", "--org", org["id"], "--name", "ops-cli", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    creds = json.loads(res.stdout)
    assert creds["scopes"] == ["admin"] and creds["client_secret"].startswith("fbs_")

    resp = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
        },
    )
    assert resp.status_code == 200, resp.text
    headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    resp = await client.get("/v1/admin/organizations", headers=headers)
    assert resp.status_code == 200
    assert [o["name"] for o in resp.json()["items"]] == ["Ops"]

    res = await cli(["client", "revoke", creds["client_id"], "--json"], **opts)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["revoked_at"]

    # The server learns of the CLI's revocation through NOTIFY; poll with a deadline.
    deadline = time.monotonic() + 10
    while True:
        resp = await client.get("/v1/admin/organizations", headers=headers)
        if resp.status_code == 401 or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    assert_problem(resp, 401)


async def test_cli_errors_are_clear_and_exit_nonzero(database_url, tmp_path):
    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(["org", "create", "--kind", "agency", "--name", "No country", "--json"], **opts)
    assert res.returncode == 1
    assert "country" in res.stderr
    assert json.loads(res.stdout)["error"]["errors"][0]["field"] == "country"

    res = await cli(["client", "create", "--org", "not-a-uuid", "--name", "x"], **opts)
    assert res.returncode == 1
    assert "organization_id" in res.stderr

    res = await cli(["client", "revoke", "00000000-0000-0000-0000-000000000000"], **opts)
    assert res.returncode == 1
    assert "No such client" in res.stderr


async def test_client_scopes_must_fit_the_organisation_kind(database_url, tmp_path):
    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(
        [
            "org",
            "create",
            "--kind",
            "platform",
            "--name",
            "Twitter",
            "--platform",
            "twitter",
            "--json",
        ],
        **opts,
    )
    org = json.loads(res.stdout)
    res = await cli(
        ["client", "create", "--org", org["id"], "--name", "t", "--scopes", "admin"], **opts
    )
    assert res.returncode == 1
    assert "scopes" in res.stderr
    res = await cli(
        ["client", "create", "--org", org["id"], "--name", "t", "--scopes", "feed:read", "--json"],
        **opts,
    )
    assert json.loads(res.stdout)["scopes"] == ["feed:read"]


async def test_demo_creates_the_jakarta_world_once(client, database_url, tmp_path):
    opts = {"database_url": database_url, "data_dir": tmp_path}
    res = await cli(["demo", "--json"], **opts)
    assert res.returncode == 0, res.stderr
    world = json.loads(res.stdout)
    assert world["created"] is True
    countries = sorted(o["country"] for o in world["organizations"] if o["kind"] == "agency")
    assert countries == sorted(["ID", "AU", "BN", "MY", "MM", "NZ", "PH", "SG", "TH"])
    platforms = {o["platform"] for o in world["organizations"] if o["kind"] == "platform"}
    assert "twitter" in platforms and len(platforms) == 3
    assert {o["kind"] for o in world["organizations"]} == {
        "agency",
        "platform",
        "observer",
        "operator",
    }
    # A few hundred sample flags across the lifecycle.
    statuses = world["flags"]
    assert sum(n for k, n in statuses.items() if k != "skipped") >= 250
    assert {"open", "acknowledged", "info_requested", "closed", "withdrawn", "held"} <= set(
        statuses
    )

    # Every printed credential works.
    for org in world["organizations"]:
        resp = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": org["client_id"],
                "client_secret": org["client_secret"],
            },
        )
        assert resp.status_code == 200, (org["name"], resp.text)

    again = await cli(["demo", "--json"], **opts)
    second = json.loads(again.stdout)
    assert second["created"] is False
    assert [o["client_id"] for o in second["organizations"]] == [
        o["client_id"] for o in world["organizations"]
    ]


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["org"],
        ["org", "create"],
        ["client"],
        ["client", "create"],
        ["keys"],
        ["serve"],
        ["demo"],
        ["audit"],
        ["audit", "verify"],
        ["audit", "partitions"],
        ["audit", "archive"],
        ["stats", "rebuild"],
        ["stats", "fold"],
    ],
)
def test_every_command_has_help(args, tmp_path):
    res = subprocess.run(
        [sys.executable, "-m", "app.cli.main", *args, "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    assert "usage: flagbridge" in res.stdout


def test_keys_rotate_list_retire(tmp_path):
    env = {**os.environ, "FLAGBRIDGE_KEYS_DIR": str(tmp_path / "keys")}

    def keys(*args: str) -> dict:
        res = subprocess.run(
            [sys.executable, "-m", "app.cli.main", "keys", args[0], "--json", *args[1:]],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    first = keys("rotate")["kid"]
    second = keys("rotate")["kid"]
    listed = {k["kid"]: k for k in keys("list")["keys"]}
    assert listed[second]["active"] and not listed[first]["active"]
    # A key id may start with "-" (base64url): after "--" it is never read as an option.
    keys("retire", "--", first)
    listed = {k["kid"]: k for k in keys("list")["keys"]}
    assert listed[first]["private"] is False  # verify-only now
    keys("retire", "--forget", "--", first)
    assert first not in {k["kid"] for k in keys("list")["keys"]}
