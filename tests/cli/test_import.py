"""`flagbridge import`: CSV/JSONL parsing, local checks, a crash and a rerun against a real
server (every good row exactly once, every bad row reported with its line): in process, and
as a `flagbridge import` process killed with SIGKILL half way."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import uvicorn
from sqlalchemy import text

from app.cli import importer
from app.client import FlagBridgeClient
from app.config import Settings

THAI = "บัญชีนี้เผยแพร่วิดีโอรับสมัคร"
BURMESE = "ဤအကောင့်သည် စုဆောင်းရေး ဗီဒီယိုများ"
MALAY = "Akaun ini menyebarkan video pengambilan"
INDONESIAN = "Akun ini menyebarkan video perekrutan"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Test settings with room for 1000-flag batches."""
    return settings.model_copy(update={"max_batch_body_bytes": 10 * 1024 * 1024})


def _row(n: int, **over: str) -> dict[str, str]:
    row = {
        "platform": "importp",
        "handle": f"acct_{n}",
        "account_id": "",
        "url": "",
        "kind": "referral",
        "category": "propaganda",
        "priority": "standard",
        "legal_basis": "UU 5/2018 Pasal 13A",
        "summary": [THAI, BURMESE, MALAY, INDONESIAN][n % 4],
        "evidence_url": f"https://evidence.example.gov/{n}.png",
        "evidence_sha256": "",
        "external_ref": f"case-{n}",
    }
    row.update(over)
    return row


def _csv(rows: list[dict[str, str]], delimiter: str = ",", bom: bool = False) -> bytes:
    out = []
    header = list(rows[0])
    out.append(delimiter.join(header))
    for r in rows:
        out.append(delimiter.join('"' + r[h].replace('"', '""') + '"' for h in header))
    return (("\ufeff" if bom else "") + "\r\n".join(out) + "\r\n").encode()


def test_csv_with_bom_semicolons_and_quoted_newlines_keeps_line_numbers():
    rows = [_row(1), _row(2, summary='two "quoted"\nlines; here'), _row(3, category="nope")]
    parsed = list(importer.read_rows(_csv(rows, ";", bom=True), "x.csv"))
    assert [r.line for r in parsed] == [2, 3, 5]
    assert parsed[1].body is not None and parsed[1].body["summary"] == 'two "quoted"\nlines; here'
    assert parsed[2].body is None and "category" in (parsed[2].error or "")
    assert parsed[0].body == {
        "platform": "importp",
        "account": {"handle": "acct_1"},
        "kind": "referral",
        "category": "propaganda",
        "priority": "standard",
        "legal_basis": "UU 5/2018 Pasal 13A",
        "summary": BURMESE,
        "external_ref": "case-1",
        "evidence": [{"url": "https://evidence.example.gov/1.png"}],
    }


def test_jsonl_and_more_evidence_columns():
    line = json.dumps(_row(5, evidence_url_2="https://e.example/2", evidence_sha256_2="ab" * 32))
    (row,) = importer.read_rows((line + "\n").encode(), "f.jsonl")
    assert row.line == 1 and row.body is not None
    assert row.body["evidence"][1] == {"url": "https://e.example/2", "sha256": "ab" * 32}
    bad = list(importer.read_rows(b'{"platform": "p"}\n\n[1]\n', "f.jsonl"))
    assert [(r.line, r.body) for r in bad] == [(1, None), (3, None)]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Killed(BaseException):
    """The importer process dies (after the server committed the batch it was sent)."""


class _DiesAfter:
    def __init__(self, client: FlagBridgeClient, batches: int) -> None:
        self.client, self.left = client, batches

    def submit_batch(self, flags, *, idempotency_key):
        answer = self.client.submit_batch(flags, idempotency_key=idempotency_key)
        self.left -= 1
        if self.left == 0:
            raise _Killed
        return answer


@pytest_asyncio.fixture
async def served(app) -> AsyncIterator[str]:
    """The test's app on a free loopback port (the importer is a real HTTP client)."""
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await serving


def _ten_thousand_rows() -> tuple[bytes, dict[int, str]]:
    """10,000 rows, some bad: the CSV and each bad row's line with the field it gets wrong."""
    rows = [_row(n) for n in range(10_000)]
    bad: dict[int, str] = {}
    for n in range(0, 10_000, 97):
        rows[n]["category"] = "not-a-category"
        bad[n + 2] = "category"
    for n in range(50, 10_000, 101):
        rows[n]["summary"] = ""
        bad[n + 2] = "summary"
    return _csv(rows), bad


async def _stored(app) -> tuple[int, int, set[str]]:
    """Flags stored: how many, how many distinct external_refs, and their summaries."""
    async with app.state.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT count(*) FROM flag"))).scalar()
        distinct = (
            await conn.execute(text("SELECT count(DISTINCT external_ref) FROM flag"))
        ).scalar()
        summaries = {r[0] for r in await conn.execute(text("SELECT DISTINCT summary FROM flag"))}
    return int(stored or 0), int(distinct or 0), summaries


async def test_ten_thousand_rows_killed_half_way_and_rerun(app, world, served, tmp_path):
    await world.org("platform", platform="importp")
    agency = await world.credentials("agency", country="ID")
    raw, bad = _ten_thousand_rows()
    bad_lines = set(bad)

    def run(dies_after: int | None) -> list[importer.Result]:
        with FlagBridgeClient(served, agency.client_id, agency.client_secret) as fb:
            client = fb if dies_after is None else _DiesAfter(fb, dies_after)
            return importer.run_import(raw, "cases.csv", client=client, batch_size=1000)

    with pytest.raises(_Killed):
        await asyncio.to_thread(run, 5)
    results = await asyncio.to_thread(run, None)

    good = 10_000 - len(bad_lines)
    counts = importer.summary(results)
    assert counts == {"created": good, "duplicate": 0, "failed": len(bad_lines), "rows": 10_000}
    assert {r.line for r in results if r.status == "failed"} == bad_lines
    assert all(r.error for r in results if r.status == "failed")
    stored, distinct, summaries = await _stored(app)
    assert stored == distinct == good
    assert summaries == {THAI, BURMESE, MALAY, INDONESIAN}

    report = tmp_path / "report.csv"
    importer.write_report(report, results)
    with report.open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert lines[0].keys() == {"line", "status", "flag_id", "error"}
    assert len(lines) == 10_000 and lines[0]["line"] == "2"


def _import_process(path: Path, report: Path, *, url: str, agency) -> subprocess.Popen[str]:
    """`flagbridge import PATH` in its own process, as on an agency's machine (credentials
    from the environment, no FlagBridge database); small batches, so there is time to kill
    it between them."""
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "FLAGBRIDGE_DATA_DIR": str(path.parent),
        "FLAGBRIDGE_URL": url,
        "FLAGBRIDGE_CLIENT_ID": agency.client_id,
        "FLAGBRIDGE_CLIENT_SECRET": agency.client_secret,
    }
    args = [str(path), "--report", str(report), "--json", "--batch-size", "100"]
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli.main", "import", *args],
        env=env,
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_an_import_process_killed_half_way_and_rerun_lands_every_good_row_once(
    app, world, served, tmp_path
):
    await world.org("platform", platform="importp")
    agency = await world.credentials("agency", country="ID")
    raw, bad = _ten_thousand_rows()
    good = 10_000 - len(bad)
    path = tmp_path / "cases.csv"
    path.write_bytes(raw)
    report = tmp_path / "report.csv"
    opts = {"url": served, "agency": agency}

    first = _import_process(path, report, **opts)
    try:
        deadline = time.monotonic() + 120
        while (landed := (await _stored(app))[0]) < 1000:
            assert first.poll() is None, first.communicate()
            assert time.monotonic() < deadline, f"only {landed} flags landed"
            await asyncio.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        await asyncio.to_thread(first.wait, 10)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == -signal.SIGKILL
    landed = (await _stored(app))[0]
    assert 1000 <= landed < good, "killed after some batches, before the last"
    assert not report.exists(), "a killed import wrote no report"

    second = _import_process(path, report, **opts)
    out, err = await asyncio.to_thread(second.communicate, None, 300)
    assert second.returncode == 1, err  # the bad rows failed
    assert json.loads(out) == {
        "created": good,
        "duplicate": 0,
        "failed": len(bad),
        "rows": 10_000,
    }
    stored, distinct, _ = await _stored(app)
    assert stored == distinct == good
    with report.open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert len(lines) == 10_000
    failed = {int(r["line"]): r["error"] for r in lines if r["status"] == "failed"}
    assert failed.keys() == bad.keys()
    for line, field in bad.items():
        assert f"{field}: " in failed[line], (line, failed[line])
    assert all(r["flag_id"] for r in lines if r["status"] == "created")


def test_template_and_dry_run_exit_codes(tmp_path, capsys):
    from app.cli.main import main

    assert main(["import", "--template"]) == 0
    assert capsys.readouterr().out.strip().split(",") == list(importer.COLUMNS)
    path = tmp_path / "f.csv"
    path.write_bytes(_csv([_row(1), _row(2, category="x")]))
    report = tmp_path / "r.csv"
    assert main(["import", str(path), "--dry-run", "--json", "--report", str(report)]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "created": 0,
        "duplicate": 0,
        "failed": 1,
        "rows": 2,
    }
    assert "3,failed" in report.read_text(encoding="utf-8")
