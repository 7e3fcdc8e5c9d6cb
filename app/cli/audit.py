"""`flagbridge audit seal` and `flagbridge audit verify`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import sealing
from app.cli.common import emit, in_transaction, json_parent, with_sessionmaker


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
    verify.set_defaults(func=cmd_verify)


def cmd_seal(args: argparse.Namespace) -> int:
    """Seal pending entries."""
    sealed = with_sessionmaker(sealing.seal_pending)
    emit(args, {"sealed": sealed}, f"sealed {sealed} entries")
    return 0


def _progress(count: int) -> None:
    if sys.stderr.isatty() and count % 10_000 == 0:
        sys.stderr.write(f"\r  verified {count:,} entries")
        sys.stderr.flush()


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify the chain."""

    async def run(session: AsyncSession) -> dict[str, Any]:
        result = await sealing.verify_chain(session, progress=_progress)
        return result.as_dict()

    result = in_transaction(run)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if result["status"] == "ok":
        emit(args, result, f"ok: {result['entries']} entries, head {result['head']}")
        return 0
    emit(
        args,
        result,
        f"MISMATCH at seq {result['first_bad_seq']} (position {result['first_bad_position']}): "
        f"{result['problem']}",
    )
    return 1
