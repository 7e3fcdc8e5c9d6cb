"""`flagbridge import FILE`: send an agency's spreadsheet (CSV or JSON Lines) as flags.

Rows are checked locally with the API's own request model (FlagCreate), then sent through
the batch endpoint with the typed client (app/client). Each batch's Idempotency-Key is
derived from the file's content and the batch's line range, so a rerun after a crash sends
the same batches with the same keys: the server replays what it stored instead of creating
anything twice (and past the key retention, a flag already live is a 409 duplicate).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

COLUMNS = (
    "platform",
    "handle",
    "account_id",
    "url",
    "kind",
    "category",
    "priority",
    "legal_basis",
    "summary",
    "evidence_url",
    "evidence_sha256",
    "external_ref",
)
MAX_EVIDENCE_COLUMNS = 20


@dataclass
class Row:
    """One row of the file: its line number (header = 1), its flag body or why it has none."""

    line: int
    body: dict[str, Any] | None
    error: str | None = None


@dataclass
class Result:
    """What became of a row."""

    line: int
    status: str  # created, duplicate, failed (valid with --dry-run)
    flag_id: str = ""
    error: str = ""


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the import command."""
    p = sub.add_parser(
        "import",
        help="send flags from a CSV or JSON Lines file (an agency's credentials)",
        description="Columns: " + ", ".join(COLUMNS) + " (more evidence as evidence_url_2, "
        "evidence_sha256_2, ...). CSV may be UTF-8 with or without BOM, comma or semicolon "
        "separated, Excel quoting. A rerun of the same file creates nothing twice. Exit 0 "
        "when every row landed, 1 when some failed.",
    )
    p.add_argument("file", nargs="?", type=Path, help="the .csv or .jsonl file")
    p.add_argument("--template", action="store_true", help="print the CSV header and exit")
    p.add_argument("--url", default=os.environ.get("FLAGBRIDGE_URL"))
    p.add_argument("--client-id", default=os.environ.get("FLAGBRIDGE_CLIENT_ID"))
    p.add_argument("--client-secret", default=os.environ.get("FLAGBRIDGE_CLIENT_SECRET"))
    p.add_argument("--report", type=Path, help="write line,status,flag_id,error here (CSV)")
    p.add_argument("--dry-run", action="store_true", help="only check the rows locally")
    p.add_argument("--batch-size", type=int, default=500, help="rows per request (1-1000)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    # A client of the API: it runs on the agency's machine, with no FlagBridge database.
    p.set_defaults(func=cmd_import, needs_database=False)


def _cell(value: Any) -> str | None:
    text = "" if value is None else str(value).strip()
    return text or None


def to_flag(fields: dict[str, Any]) -> dict[str, Any]:
    """A flag submission from one row's columns (empty cells are left out)."""
    account = {
        k: v
        for k, v in (
            ("handle", _cell(fields.get("handle"))),
            ("id", _cell(fields.get("account_id"))),
            ("url", _cell(fields.get("url"))),
        )
        if v
    }
    evidence = []
    for n in range(1, MAX_EVIDENCE_COLUMNS + 1):
        suffix = "" if n == 1 else f"_{n}"
        url = _cell(fields.get(f"evidence_url{suffix}"))
        if url:
            item = {"url": url}
            sha = _cell(fields.get(f"evidence_sha256{suffix}"))
            if sha:
                item["sha256"] = sha
            evidence.append(item)
    body: dict[str, Any] = {"platform": _cell(fields.get("platform")), "account": account}
    for name in ("kind", "category", "priority", "legal_basis", "summary", "external_ref"):
        if value := _cell(fields.get(name)):
            body[name] = value
    body["evidence"] = evidence
    return body


def check(body: dict[str, Any]) -> str | None:
    """Why the API would refuse this flag's shape, None when it would accept it."""
    from app.flags.schemas import FlagCreate

    try:
        FlagCreate.model_validate(body)
    except ValidationError as exc:
        return "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors()
        )
    return None


def read_rows(raw: bytes, name: str) -> Iterator[Row]:
    """The rows of a CSV or JSON Lines file, each with its line number and checked body."""
    text = raw.decode("utf-8-sig")
    if name.endswith((".jsonl", ".ndjson")) or text.lstrip().startswith("{"):
        for number, record in enumerate(text.splitlines(), start=1):
            if not record.strip():
                continue
            try:
                fields = json.loads(record)
                if not isinstance(fields, dict):
                    raise ValueError("not a JSON object")
            except ValueError as exc:
                yield Row(number, None, f"not a JSON object: {exc}")
                continue
            yield _checked(number, fields)
        return
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    _ = reader.fieldnames  # reads the header (it may span lines)
    at = reader.line_num + 1  # a record starts on the line after the previous one ends
    for fields in reader:
        if None in fields:
            yield Row(at, None, "more cells than the header has columns")
        else:
            yield _checked(at, fields)
        at = reader.line_num + 1


def _checked(line: int, fields: dict[str, Any]) -> Row:
    body = to_flag(fields)
    error = check(body)
    return Row(line, None if error else body, error)


def batch_key(file_digest: str, batch: list[Row]) -> str:
    """The Idempotency-Key of a batch: the file's content and the batch's lines."""
    lines = ",".join(str(r.line) for r in batch)
    return "import-" + hashlib.sha256(f"{file_digest}:{lines}".encode()).hexdigest()[:48]


def _results(batch: list[Row], answer: dict[str, Any]) -> list[Result]:
    out = []
    for row, item in zip(batch, answer["results"], strict=True):
        if item["status"] == 201:
            out.append(Result(row.line, "created", str(item["flag"]["id"])))
            continue
        problem = item.get("error") or {}
        existing = problem.get("existing_flag_id")
        if item["status"] == 409 and existing:
            out.append(Result(row.line, "duplicate", str(existing), problem.get("detail", "")))
        else:
            detail = problem.get("detail") or problem.get("title") or str(item["status"])
            errors = "; ".join(f"{e['field']}: {e['message']}" for e in problem.get("errors") or [])
            out.append(Result(row.line, "failed", "", f"{detail} {errors}".strip()))
    return out


class Progress:
    """A one-line progress bar on stderr with rate and time left."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.total, self.enabled, self.started, self.done = total, enabled, time.monotonic(), 0

    def advance(self, n: int) -> None:
        """Count n more rows and redraw."""
        self.done += n
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = self.done / elapsed
        left = (self.total - self.done) / rate if rate else 0
        filled = int(30 * self.done / max(self.total, 1))
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} rows "
            f"{rate:,.0f}/s, {left:,.0f}s left "
        )
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def run_import(
    raw: bytes,
    name: str,
    *,
    client: Any,
    batch_size: int = 500,
    dry_run: bool = False,
    progress: bool = False,
) -> list[Result]:
    """Check every row and send the good ones in batches; the results in file order."""
    rows = list(read_rows(raw, name))
    digest = hashlib.sha256(raw).hexdigest()
    results = [Result(r.line, "failed", "", r.error or "") for r in rows if r.body is None]
    good = [r for r in rows if r.body is not None]
    bar = Progress(len(rows), enabled=progress)
    bar.advance(len(results))
    for start in range(0, len(good), batch_size):
        batch = good[start : start + batch_size]
        if dry_run:
            results.extend(Result(r.line, "valid") for r in batch)
        else:
            answer = client.submit_batch(
                [r.body for r in batch], idempotency_key=batch_key(digest, batch)
            )
            results.extend(_results(batch, answer))
        bar.advance(len(batch))
    return sorted(results, key=lambda r: r.line)


def write_report(path: Path, results: list[Result]) -> None:
    """The report CSV: line, status, flag_id, error."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["line", "status", "flag_id", "error"])
        for r in results:
            writer.writerow([r.line, r.status, r.flag_id, r.error])


def summary(results: list[Result]) -> dict[str, int]:
    """Counts by outcome, and the number of rows."""
    counts = {"created": 0, "duplicate": 0, "failed": 0, "rows": len(results)}
    for r in results:
        if r.status in counts:
            counts[r.status] += 1
    return counts


def cmd_import(args: argparse.Namespace) -> int:
    """Run `flagbridge import`."""
    from app.cli.common import fail

    if args.template:
        print(",".join(COLUMNS))
        return 0
    if args.file is None:
        return fail(args, "a FILE is needed (or --template)", 2)
    if not 1 <= args.batch_size <= 1000:
        return fail(args, "--batch-size must be between 1 and 1000", 2)
    client = None
    if not args.dry_run:
        if not (args.url and args.client_id and args.client_secret):
            return fail(
                args, "--url, --client-id and --client-secret (or FLAGBRIDGE_*) are needed", 2
            )
        from app.client import FlagBridgeClient

        client = FlagBridgeClient(args.url, args.client_id, args.client_secret)
    try:
        results = run_import(
            args.file.read_bytes(),
            args.file.name,
            client=client,
            batch_size=args.batch_size,
            dry_run=args.dry_run,
            progress=not args.json,
        )
    finally:
        if client is not None:
            client.close()
    if args.report:
        write_report(args.report, results)
    counts = summary(results)
    if args.json:
        print(json.dumps(counts))
    else:
        print(
            f"{counts['rows']} rows: {counts['created']} created, {counts['duplicate']} "
            f"duplicate, {counts['failed']} failed"
        )
    return 0 if counts["failed"] == 0 else 1
