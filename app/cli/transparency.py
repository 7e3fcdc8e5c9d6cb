"""`flagbridge transparency ...`: publish the public reports, and check a saved one offline."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from jose.backends.base import Key
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.keys import load_key_ring
from app.cli.common import cli_actor, command, emit, fail, group, in_transaction
from app.config import get_settings
from app.errors import AppError
from app.stats import publication, revisions, signed_report


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the transparency command group."""
    transparency_sub = group(sub, "transparency", help="publish and verify transparency reports")
    publish = command(
        transparency_sub,
        "publish",
        cmd_publish,
        help="publish every due report now, or one period's (servers publish due reports "
        "every FLAGBRIDGE_TRANSPARENCY_PUBLISH_SECONDS)",
        description="Build, freeze, sign and store the report of every closed period whose "
        "grace period has passed and that has none yet, or of the one --period. A published "
        "report never changes: --revise stores a new revision beside it, only if the "
        "document would differ and only if every count it changes changes by five or more, "
        "all in the same direction, and no hidden figure is printed in a way that narrows "
        "it down (a smaller change, worked out by subtracting the two revisions, would "
        "reveal a count under five; exit code 2, nothing stored). "
        "Audited as transparency.published.",
    )
    publish.add_argument(
        "--period", help="one period: 2026-H1, 2026-Q3 or 2026 (default: every due one)"
    )
    publish.add_argument(
        "--revise",
        action="store_true",
        help="with --period: publish a new revision if the data changed since the last one",
    )
    verify = command(
        transparency_sub,
        "verify",
        cmd_verify,
        help="check a saved report (GET /transparency/reports/{period}.json) offline",
        description="Check that FILE is a report the service signed: the JWS verifies with "
        "the key its kid names, and the report is exactly the signed document. Keys come "
        "from --jwks (a file, or a URL such as https://HOST/.well-known/jwks.json or the key "
        "history /.well-known/flagbridge-key-history.json), else from this installation's "
        "key folder and key history. Exit code 0 when it verifies, 1 when not.",
    )
    verify.add_argument("file", type=Path, help="the saved report")
    verify.add_argument("--jwks", help="a JWKS file or URL (default: the local keys)")
    verify.set_defaults(needs_database=False)


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish due reports, or one period's."""
    if args.revise and not args.period:
        return fail(args, "--revise needs --period", code=2)
    settings = get_settings()
    ring = load_key_ring(settings)
    policy = publication.Policy.from_settings(settings)

    async def run(session: AsyncSession) -> list[publication.Published]:
        if args.period:
            one = await publication.publish_period(
                session=session,
                ring=ring,
                policy=policy,
                name=args.period,
                revise=args.revise,
                actor_label=cli_actor(),
            )
            return [one]
        return await publication.publish_due_in(
            session=session, ring=ring, policy=policy, actor_label=cli_actor()
        )

    try:
        done = in_transaction(run, settings=settings)
    except revisions.UnsafeRevision as exc:
        return fail(args, exc, code=2)
    except AppError as exc:
        return fail(args, exc)
    lines = [
        f"{p.period}: revision {p.revision} " + ("published" if p.created else "unchanged")
        for p in done
    ]
    emit(args, {"reports": [p.out() for p in done]}, "\n".join(lines) or "no report is due")
    return 0


def _load_keys(source: str) -> dict[str, Any]:
    """The JWKS at a URL or in a file."""
    if source.startswith(("https://", "http://")):
        resp = httpx.get(source, timeout=10.0)
        resp.raise_for_status()
        return dict(resp.json())
    return dict(json.loads(Path(source).read_text()))


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a saved report against a JWKS or the local key history."""
    try:
        body = args.file.read_bytes()
        key_for: Callable[[str], Key | None]
        if args.jwks:
            key_for = signed_report.keys_from_jwks(_load_keys(args.jwks)).get
        else:
            key_for = load_key_ring(get_settings()).historic_verifier
        report = signed_report.verified_report(body, key_for)
    except (OSError, ValueError, httpx.HTTPError) as exc:
        return fail(args, f"{args.file}: {exc}")
    period = report.get("period", {})
    out = {"verified": True, "period": period.get("id"), "revision": report.get("revision")}
    emit(
        args,
        out,
        f"{args.file}: verified, the report of {period.get('id')} "
        f"(revision {report.get('revision')}) as signed",
    )
    return 0
