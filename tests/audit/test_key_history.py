"""Verification survives a full key rotation cycle: rotate, retire, forget, verify."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

from app.audit import checkpoints
from app.audit.sealing import seal_pending
from app.config import Settings
from tests.auth.test_key_rotation import jwks_kids, running
from tests.cli.test_cli import cli
from tests.conftest import flag_body, party


async def _activity_then_checkpoint(world) -> dict:
    """Some audited activity, sealed and signed by the key that signs now."""
    agency = await party(world, "agency", country="MY")
    platform = f"p{uuid.uuid4().hex[:8]}"
    await party(world, "platform", platform=platform)
    body = flag_body(platform)
    resp = await world.client.post("/v1/flags", json=body, headers=agency.headers)
    assert resp.status_code == 201, resp.text
    await seal_pending(world.app.state.sessionmaker)
    cp = await checkpoints.create_if_due(
        world.app.state.sessionmaker,
        world.app.state.verifier.ring,
        min_interval=timedelta(0),
        force=True,
    )
    assert cp is not None
    return cp


async def test_rotate_retire_forget_then_the_whole_history_verifies(
    settings: Settings, database_url: str, tmp_path: Path
):
    keys = tmp_path / "cycle-keys"
    mine = settings.model_copy(update={"keys_dir": keys})
    opts = {
        "database_url": database_url,
        "data_dir": tmp_path,
        "env": {"FLAGBRIDGE_KEYS_DIR": str(keys)},
    }
    async with running(mine, database_url) as world:
        ring = world.app.state.verifier
        first = await _activity_then_checkpoint(world)
        old_kid = first["kid"]
        # A key id may start with "-" (base64url): after "--" it is never read as an option.
        for step in (["keys", "rotate", "--json"], ["keys", "retire", "--json", "--", old_kid]):
            res = await cli(step, **opts)
            assert res.returncode == 0, res.stderr
        ring.reload_ring(force=True)
        second = await _activity_then_checkpoint(world)
        assert second["kid"] != old_kid
        res = await cli(["keys", "retire", "--forget", "--json", "--", old_kid], **opts)
        assert res.returncode == 0, res.stderr
        ring.reload_ring(force=True)
        world._operator_token = None  # it was signed by the forgotten key

        # Tokens signed by the forgotten key are refused: it is gone from the JWKS...
        assert old_kid not in await jwks_kids(world)
        # ...but the key history still serves it, marked forgotten.
        history = (await world.client.get("/.well-known/flagbridge-key-history.json")).json()
        statuses = {k["kid"]: k["status"] for k in history["keys"]}
        assert statuses == {old_kid: "forgotten", second["kid"]: "live"}

        observer = await party(world, "observer")
        result = (await world.client.get("/v1/audit/verify", headers=observer.headers)).json()
        assert result["status"] == "ok", result
        saved = tmp_path / "saved.json"
        saved.write_text(json.dumps({"items": [first, second], "next_cursor": None}))
        res = await cli(["audit", "verify", "--json", "--from-checkpoint", str(saved)], **opts)
        assert res.returncode == 0, res.stdout + res.stderr
        assert json.loads(res.stdout)["status"] == "ok"

        # Without the history the old checkpoint would be unverifiable: prove the test can fail.
        for path in (keys / "history").glob("*.pem"):
            path.unlink()
        ring.reload_ring(force=True)
        # A full run: the default one starts at the newest verified checkpoint, after the old.
        auditor = await party(world, "observer")
        result = (
            await world.client.get(
                "/v1/audit/verify", params={"full": "true"}, headers=auditor.headers
            )
        ).json()
        assert result["status"] == "mismatch"
        assert "not in the key history" in result["problem"]
