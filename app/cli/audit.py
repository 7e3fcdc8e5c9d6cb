"""`flagbridge audit`: seal, verify, export, partitions and archive the audit log."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import checkpoints, partitions, runs, sealing, verification
from app.auth.keys import KeyRing, load_key_ring
from app.cli import witness
from app.cli.common import (
    cli_actor,
    command,
    emit,
    fail,
    group,
    in_transaction,
    with_sessionmaker,
)
from app.config import get_settings
from app.errors import AppError


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the audit command group."""
    audit_sub = group(sub, "audit", help="seal and verify the audit log's hash chain")
    command(audit_sub, "seal", cmd_seal, help="chain every committed, unsealed entry now")
    verify = command(
        audit_sub,
        "verify",
        cmd_verify,
        help="recompute the chain; exit 1 and name the first bad entry if it is broken",
    )
    scope = verify.add_mutually_exclusive_group()
    scope.add_argument(
        "--full",
        dest="incremental",
        action="store_false",
        help="recompute the whole chain from its start (the default: the operator's deep check)",
    )
    scope.add_argument(
        "--incremental",
        dest="incremental",
        action="store_true",
        help="check only what follows the newest checkpoint an earlier run verified, as "
        "GET /v1/audit/verify does by default",
    )
    verify.set_defaults(incremental=False)
    verify.add_argument(
        "--from-checkpoint",
        metavar="FILE",
        help="also check checkpoints you saved: the body of GET /v1/audit/checkpoints "
        "(the page object), a list of its items, or one checkpoint; catches a rewritten or "
        "truncated chain. A file that holds none, or a forged one, is exit 2",
    )
    verify.add_argument(
        "--archive",
        metavar="FILE",
        action="append",
        default=[],
        help="also check an archive file written by `audit archive` against the chain (repeatable)",
    )
    parts = command(
        audit_sub,
        "partitions",
        cmd_partitions,
        help="list the log's monthly partitions and archived months; --ensure makes the next ones",
    )
    parts.add_argument(
        "--ensure",
        action="store_true",
        help="create partitions up to --months-ahead months on (needs the table owner)",
    )
    parts.add_argument("--months-ahead", type=int, default=3, metavar="N")
    archive = command(
        audit_sub,
        "archive",
        cmd_archive,
        help="write a past month of the log to a file and detach its partition",
        description="Seal, copy the month's entries (in chain order, with their hashes) to "
        "FILE, record the file's SHA-256 and entry count in audit_archive, and detach the "
        "partition, in one transaction. The chain keeps every link: `audit verify` still "
        "passes, and `audit verify --archive FILE` checks the file against it. Run as the "
        "table owner.",
    )
    archive.add_argument("--month", required=True, help="the month to archive, YYYY-MM")
    archive.add_argument("--out", required=True, metavar="FILE", help="where to write it")
    archive.add_argument(
        "--drop",
        action="store_true",
        help="drop the detached table too (default: keep it for pg_dump or tablespace moves)",
    )
    export = audit_sub.add_parser(
        "export",
        help="write the log as JSON lines on stdout (with each entry's chain hashes)",
        description="Stream audit entries, oldest first, one JSON object per line, in "
        "constant memory; progress goes to stderr.",
    )
    export.add_argument("--since", help="only entries at or after this RFC 3339 time")
    export.add_argument("--until", help="only entries before this RFC 3339 time")
    export.set_defaults(func=cmd_export)
    witness.register(audit_sub)


def cmd_seal(args: argparse.Namespace) -> int:
    """Seal pending entries."""
    ring = load_key_ring(get_settings())

    async def run(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        sealed = await sealing.seal_pending(sessionmaker)
        checkpoint = await checkpoints.create_if_due(
            sessionmaker, ring, min_interval=timedelta(0), force=True
        )
        return {"sealed": sealed, "checkpoint": checkpoint}

    out = with_sessionmaker(run)
    emit(
        args,
        out,
        f"sealed {out['sealed']} entries"
        + (f"; checkpoint at seq {out['checkpoint']['seq']}" if out["checkpoint"] else ""),
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Export entries as JSON lines."""
    bounds: dict[str, datetime | None] = {}
    for name in ("since", "until"):
        raw = getattr(args, name)
        try:
            bounds[name] = datetime.fromisoformat(raw) if raw else None
        except ValueError:
            return fail(args, f"--{name} must be an RFC 3339 time, e.g. 2026-11-01T00:00:00Z")
        value = bounds[name]
        if value is not None and value.tzinfo is None:
            return fail(args, f"--{name} needs a time zone (Z or an offset)")

    async def run(session: AsyncSession) -> int:
        count = 0
        async for row in sealing.export_entries(
            session, since=bounds["since"], until=bounds["until"]
        ):
            sys.stdout.write(json.dumps(row, sort_keys=True) + "\n")
            count += 1
            _progress(count)
        return count

    count = in_transaction(run)
    sys.stdout.flush()
    sys.stderr.write(f"exported {count} entries\n")
    return 0


def _progress(count: int) -> None:
    if sys.stderr.isatty() and count % 10_000 == 0:
        sys.stderr.write(f"\r  verified {count:,} entries")
        sys.stderr.flush()


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the chain."""

    saved: list[dict[str, Any]] = []
    ring = load_key_ring(get_settings())
    if args.from_checkpoint:
        try:
            saved = _saved_checkpoints(Path(args.from_checkpoint), ring)
        except ValueError as exc:
            return fail(args, f"{args.from_checkpoint}: {exc}", code=2)
    files: dict[str, Iterator[dict[str, Any]]] = {}
    for name in args.archive:
        try:
            files[_sha256_of(Path(name))] = _lines(Path(name))
        except OSError as exc:
            return fail(args, f"cannot read {name}: {exc}")

    async def run(session: AsyncSession) -> dict[str, Any]:
        known = {r[0] for r in await session.execute(text("SELECT file_sha256 FROM audit_archive"))}
        unknown = [sha for sha in files if sha not in known]
        if unknown:
            return {
                "status": "mismatch",
                "problem": "an archive file matches no recorded archive (altered, or not "
                f"written by `audit archive`): sha256 {unknown[0]}",
            }
        # Waits for a verification the servers are running rather than failing.
        await runs.take_turn(session, wait=True)
        return await verification.verify_log(
            session,
            ring,
            full=not args.incremental,
            saved=saved,
            archive_files=files,
            progress=_progress,
        )

    result = in_transaction(run)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if result["status"] == "ok":
        emit(
            args,
            result,
            f"ok: {result['entries']} entries, head {result['head']}"
            + _range(result)
            + _vouched(result),
        )
        return 0
    where = (
        f"checkpoint seq {result['checkpoint']['seq']}"
        if result.get("checkpoint")
        else f"seq {result['first_bad_seq']} (position {result['first_bad_position']})"
        if result.get("first_bad_seq") is not None
        else f"archive {result['archive']}"
        if result.get("archive")
        else "the archives"
    )
    emit(args, result, f"MISMATCH at {where}: {result['problem']}")
    return 1


def _range(result: dict[str, Any]) -> str:
    """Which positions an incremental run checked, in words."""
    start = result.get("start_checkpoint")
    if start is None:
        return ""
    return (
        f" (positions {result['from_seq']}..{result['to_seq']}, after checkpoint seq "
        f"{start['seq']})"
    )


def _vouched(result: dict[str, Any]) -> str:
    """Who vouches for the newest checkpoint, in words."""
    if result.get("witnessed_seq") is None:
        return ""
    names = ", ".join(w["organization_name"] for w in result["witnesses"]) or "no witness yet"
    return f"; newest checkpoint seq {result['witnessed_seq']} co-signed by: {names}"


def _saved_checkpoints(path: Path, ring: KeyRing) -> list[dict[str, Any]]:
    """A member's saved checkpoints, each signed by a key of this service's history.

    A file that does not hold checkpoints, or holds one whose signature does not verify,
    is the user's problem (exit 2), not the chain's: it says nothing about the log.
    """
    try:
        loaded = json.loads(path.read_bytes())
    except OSError as exc:
        raise ValueError(f"cannot read it ({exc.strerror or exc})") from None
    except ValueError:
        raise ValueError("is not JSON (save the body of GET /v1/audit/checkpoints)") from None
    saved = checkpoints.saved_checkpoints(loaded)
    for cp in saved:
        problem = checkpoints.signature_problem(cp, ring)
        if problem is not None:
            raise ValueError(f"checkpoint seq {cp['seq']}: {problem}")
    return saved


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    """An archive file's entries, read lazily (constant memory)."""
    with path.open("rb") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def cmd_partitions(args: argparse.Namespace) -> int:
    """List (and optionally create) the audit log's partitions."""

    async def run(maker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        created = None
        if args.ensure:
            created = await partitions.ensure_partitions_if_allowed(
                maker, months_ahead=args.months_ahead
            )
        async with maker() as session:
            listed = await partitions.list_partitions(session)
        return {"created": created, "partitions": listed}

    if not 0 <= args.months_ahead <= 36:
        return fail(args, "--months-ahead must be between 0 and 36")
    out = with_sessionmaker(run)
    if args.ensure and out["created"] is None:
        return fail(args, "this role may not create partitions: run as the owner of audit_entry")
    lines = [
        f"{p['name']:<28} {p['state']:<9} "
        + (
            f"~{p['estimated_rows']:,} rows, {p['bytes'] / 1e6:.1f} MB"
            if p["state"] == "attached"
            else f"{p['entries']:,} entries, sha256 {p['file_sha256'][:16]}..."
        )
        for p in out["partitions"]
    ]
    if out["created"]:
        lines.append(f"created {out['created']} partitions")
    emit(args, out, "\n".join(lines))
    return 0


def cmd_archive(args: argparse.Namespace) -> int:
    """Archive one month of the log to a file and detach it."""
    try:
        month = datetime.strptime(args.month, "%Y-%m").date()
    except ValueError:
        return fail(args, "--month must be YYYY-MM, e.g. 2026-01")
    out_path = Path(args.out)
    if out_path.exists():
        return fail(args, f"{out_path} exists; archives are never overwritten")

    def progress(count: int) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(f"\r  archived {count:,} entries")
            sys.stderr.flush()

    ring = load_key_ring(get_settings())

    async def run(maker: async_sessionmaker[AsyncSession]) -> dict[str, Any]:
        return await partitions.archive_month(
            maker,
            month=month,
            out=out_path,
            actor_label=cli_actor(),
            ring=ring,
            drop=args.drop,
            progress=progress,
        )

    try:
        summary = with_sessionmaker(run)
    except AppError as exc:
        return fail(args, exc.detail or exc.title)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    emit(
        args,
        summary,
        f"archived {summary['entries']} entries of {summary['month']} to {summary['file']} "
        f"(sha256 {summary['file_sha256']}); partition {summary['partition']} "
        + ("dropped" if summary["dropped"] else "detached"),
    )
    return 0
