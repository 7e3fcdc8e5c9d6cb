"""Entry point of the `flagbridge` command."""

from __future__ import annotations

import argparse
import sys

from app import __version__
from app.cli import (
    admin,
    audit,
    demo,
    importer,
    orgs,
    ratelimits,
    retention,
    stats,
    transparency,
    worker,
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every command group."""
    parser = argparse.ArgumentParser(
        prog="flagbridge",
        description="FlagBridge: referrals of terrorism-linked accounts from agencies to "
        "platforms. Reads DATABASE_URL, or runs an embedded PostgreSQL in "
        "FLAGBRIDGE_DATA_DIR (default: the checkout's var/ for an editable install, else "
        "./var). Only serve, migrate and demo create a database.",
    )
    parser.add_argument("--version", action="version", version=f"flagbridge {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    admin.register(sub)
    orgs.register(sub)
    ratelimits.register(sub)
    demo.register(sub)
    audit.register(sub)
    stats.register(sub)
    transparency.register(sub)
    worker.register(sub)
    importer.register(sub)
    retention.register(sub)
    return parser


# Commands that may create the data folder's database, and those that use none (openapi;
# keys works on the key folder only).
NEEDS_NO_DATABASE = frozenset({"serve", "migrate", "demo", "openapi", "keys", "import"})


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the command; returns the exit code."""
    from app.cli.common import fail, missing_database
    from app.config import get_settings
    from app.embedded import EmbeddedUnavailable
    from app.migrations import MigrationRefused
    from app.observability import configure_logging

    configure_logging(get_settings().log_level if "serve" in (argv or sys.argv) else "WARNING")
    args = build_parser().parse_args(argv)
    needs_database = args.command not in NEEDS_NO_DATABASE and getattr(args, "needs_database", True)
    if needs_database and (why := missing_database(get_settings())):
        return fail(args, why, code=2)
    try:
        code = args.func(args)
    except (MigrationRefused, EmbeddedUnavailable) as exc:
        # Every command migrates first; the service's restricted role cannot (by design).
        return fail(args, str(exc))
    return int(code or 0)


if __name__ == "__main__":
    sys.exit(main())
