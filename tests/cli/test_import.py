"""`flagbridge import`: CSV/JSONL parsing, local checks, a crash and a rerun against a real
server (every good row exactly once, every bad row reported with its line)."""

from __future__ import annotations

import asyncio
import csv
import json
import socket

import pytest
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


async def test_ten_thousand_rows_killed_half_way_and_rerun(app, world, tmp_path):
    await world.org("platform", platform="importp")
    agency = await world.credentials("agency", country="ID")
    rows = [_row(n) for n in range(10_000)]
    bad_lines = set()
    for n in range(0, 10_000, 97):
        rows[n]["category"] = "not-a-category"
        bad_lines.add(n + 2)
    for n in range(50, 10_000, 101):
        rows[n]["summary"] = ""
        bad_lines.add(n + 2)
    raw = _csv(rows)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        url = f"http://127.0.0.1:{port}"

        def run(dies_after: int | None) -> list[importer.Result]:
            with FlagBridgeClient(url, agency.client_id, agency.client_secret) as fb:
                client = fb if dies_after is None else _DiesAfter(fb, dies_after)
                return importer.run_import(raw, "cases.csv", client=client, batch_size=1000)

        with pytest.raises(_Killed):
            await asyncio.to_thread(run, 5)
        results = await asyncio.to_thread(run, None)
    finally:
        server.should_exit = True
        await serving

    good = 10_000 - len(bad_lines)
    counts = importer.summary(results)
    assert counts == {"created": good, "duplicate": 0, "failed": len(bad_lines), "rows": 10_000}
    assert {r.line for r in results if r.status == "failed"} == bad_lines
    assert all(r.error for r in results if r.status == "failed")
    async with app.state.engine.connect() as conn:
        stored = (await conn.execute(text("SELECT count(*) FROM flag"))).scalar()
        distinct = (
            await conn.execute(text("SELECT count(DISTINCT external_ref) FROM flag"))
        ).scalar()
        summaries = {r[0] for r in await conn.execute(text("SELECT DISTINCT summary FROM flag"))}
    assert stored == distinct == good
    assert summaries == {THAI, BURMESE, MALAY, INDONESIAN}

    report = tmp_path / "report.csv"
    importer.write_report(report, results)
    with report.open(encoding="utf-8") as f:
        lines = list(csv.DictReader(f))
    assert lines[0].keys() == {"line", "status", "flag_id", "error"}
    assert len(lines) == 10_000 and lines[0]["line"] == "2"


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
