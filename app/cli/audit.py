"""`flagbridge audit seal` and `flagbridge audit verify`."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import checkpoints, sealing
from app.auth.keys import load_key_ring
from app.cli.common import emit, fail, in_transaction, json_parent, with_sessionmaker
from app.config import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the audit command group."""
    audit = sub.add_parser("audit", help="seal and verify the audit log's hash chain")
    audit_sub = audit.add_subparsers(dest="audit_cmd", required=True)
    seal = audit_sub.add_parser(
        "seal", parents=[json_parent], help="chain every committed, unsealed entry now"
    )
    seal.set_defaults(func=cmd_seal)
    verify = audit_sub.add_parser(
        "verify",
        parents=[json_parent],
        help="recompute the chain; exit 1 and name the first bad entry if it is broken",
    )
    verify.add_argument(
        "--from-checkpoint",
        metavar="FILE",
        help="also check checkpoints you saved (a JSON object or list from "
        "GET /v1/audit/checkpoints); catches a rewritten or truncated chain",
    )
    verify.set_defaults(func=cmd_verify)
    export = audit_sub.add_parser(
        "export",
        help="write the log as JSON lines on stdout (with each entry's chain hashes)",
        description="Stream audit entries, oldest first, one JSON object per line, in "
        "constant memory; progress goes to stderr.",
    )
    export.add_argument("--since", help="only entries at or after this RFC 3339 time")
    export.add_argument("--until", help="only entries before this RFC 3339 time")
    export.set_defaults(func=cmd_export)


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
    if args.from_checkpoint:
        try:
            loaded = json.loads(Path(args.from_checkpoint).read_text())
        except (OSError, ValueError) as exc:
            return fail(args, f"cannot read {args.from_checkpoint}: {exc}")
        saved = loaded if isinstance(loaded, list) else [loaded]
    ring = load_key_ring(get_settings())

    async def run(session: AsyncSession) -> dict[str, Any]:
        result = (await sealing.verify_chain(session, progress=_progress)).as_dict()
        every = await checkpoints.stored(session) + saved
        bad = await checkpoints.check_against_chain(session, ring, every)
        if bad is not None:
            result.update(status="mismatch", checkpoint=bad["checkpoint"], problem=bad["problem"])
        return result

    result = in_transaction(run)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if result["status"] == "ok":
        emit(args, result, f"ok: {result['entries']} entries, head {result['head']}")
        return 0
    where = (
        f"checkpoint seq {result['checkpoint']['seq']}"
        if result.get("checkpoint")
        else f"seq {result['first_bad_seq']} (position {result['first_bad_position']})"
    )
    emit(args, result, f"MISMATCH at {where}: {result['problem']}")
    return 1
