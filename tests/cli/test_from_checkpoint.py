"""`audit verify --from-checkpoint` takes exactly what the API returns, and never a traceback."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from app.audit import checkpoints
from app.audit.sealing import seal_pending
from tests.cli.test_cli import cli
from tests.conftest import flag_body, party


@pytest.fixture
async def saved(app, world, client, tmp_path):
    """A checkpoint the service signed, and the page GET /v1/audit/checkpoints returned."""
    agency = await party(world, "agency", country="MY")
    await party(world, "platform", platform="twitter")
    await client.post("/v1/flags", json=flag_body("twitter"), headers=agency.headers)
    await seal_pending(app.state.sessionmaker)
    await checkpoints.create_if_due(
        app.state.sessionmaker, app.state.verifier.ring, min_interval=timedelta(0), force=True
    )
    observer = await party(world, "observer")
    page = (await client.get("/v1/audit/checkpoints", headers=observer.headers)).json()
    assert len(page["items"]) == 1
    return page


def _opts(app, database_url, tmp_path):
    keys = str(app.state.settings.resolved_keys_dir)
    return {
        "database_url": database_url,
        "data_dir": tmp_path,
        "env": {"FLAGBRIDGE_KEYS_DIR": keys},
    }


@pytest.mark.parametrize("shape", ["page", "list", "one"])
async def test_every_shape_the_api_returns_is_accepted(app, saved, database_url, tmp_path, shape):
    content = {"page": saved, "list": saved["items"], "one": saved["items"][0]}[shape]
    path = tmp_path / "cp.json"
    path.write_text(json.dumps(content))
    res = await cli(
        ["audit", "verify", "--json", "--from-checkpoint", str(path)],
        **_opts(app, database_url, tmp_path),
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert json.loads(res.stdout)["status"] == "ok"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it"),
        ("not json {", "is not JSON"),
        ('{"items": []}', "holds no checkpoint"),
        ("[1, 2]", "item 1 is not a checkpoint object"),
        ('{"seq": "7"}', "lacks 'seq'"),
        ('{"items": [{"seq": 1, "head_hash": "00"}]}', "lacks 'signed_at'"),
        ("forged", "signature does not verify"),
        ("restated", "signed statement differs"),
    ],
)
async def test_bad_input_is_a_clear_error_and_exit_2(
    app, saved, database_url, tmp_path, content, message
):
    path = tmp_path / "cp.json"
    one = dict(saved["items"][0])
    if content == "forged":
        content = json.dumps({**one, "signature": one["signature"][:-4] + "AAAA"})
    elif content == "restated":
        content = json.dumps({**one, "seq": one["seq"] + 1})
    if content is not None:
        path.write_text(content)
    res = await cli(
        ["audit", "verify", "--from-checkpoint", str(path)], **_opts(app, database_url, tmp_path)
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert message in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
