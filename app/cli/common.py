"""What every CLI command shares: settings, the database, JSON or human output."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, get_settings
from app.db import make_engine, make_sessionmaker
from app.embedded import has_embedded_cluster, resolve_database_url
from app.errors import AppError
from app.migrations import upgrade_to_head

T = TypeVar("T")

json_parent = argparse.ArgumentParser(add_help=False)
json_parent.add_argument(
    "--json", action="store_true", help="print one JSON object on stdout instead of text"
)


def group(sub: argparse._SubParsersAction, name: str, *, help: str) -> argparse._SubParsersAction:  # type: ignore[type-arg]
    """A command group (`flagbridge NAME ...`) whose subcommand is required."""
    parser = sub.add_parser(name, help=help)
    return parser.add_subparsers(dest=f"{name}_cmd", required=True)


def command(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    func: Callable[[argparse.Namespace], int],
    **kwargs: Any,
) -> argparse.ArgumentParser:
    """A subcommand that takes --json and runs func (kwargs: help, description, ...)."""
    parser: argparse.ArgumentParser = sub.add_parser(name, parents=[json_parent], **kwargs)
    parser.set_defaults(func=func)
    return parser


def cli_actor() -> str:
    """How CLI actions are attributed in the audit log."""
    try:
        user = getpass.getuser()
    except Exception:
        user = "unknown"
    return f"cli:{user}"


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server (started or attached to)."""
    return resolve_database_url(settings.database_url, settings.data_dir)


def missing_database(settings: Settings) -> str | None:
    """Why this command must not run: no DATABASE_URL and no embedded database in the data
    folder (None when there is one). Only serve, migrate and demo may create one; any other
    command creating it would silently start a second, empty world."""
    if settings.database_url or has_embedded_cluster(settings.data_dir):
        return None
    where = settings.data_dir.expanduser().resolve() / "pg"
    return (
        f"no FlagBridge database at {where} (DATABASE_URL is unset; the data folder is "
        "FLAGBRIDGE_DATA_DIR, else the checkout's var/). Start the server (`flagbridge "
        "serve`) or run `flagbridge migrate` first, or set FLAGBRIDGE_DATA_DIR or DATABASE_URL "
        "to where the server's data is"
    )


def migrate(settings: Settings, url: str | None = None) -> str:
    """Bring the schema to the newest migration; returns the URL used."""
    url = url or database_url(settings)
    upgrade_to_head(settings.migrations_dir, url)
    return url


def in_transaction(
    fn: Callable[[AsyncSession], Awaitable[T]], *, settings: Settings | None = None
) -> T:
    """Run fn in one committed transaction against a migrated database."""
    settings = settings or get_settings()
    url = migrate(settings)

    async def runner() -> T:
        engine = make_engine(url, pool_size=2, max_overflow=0)
        try:
            async with make_sessionmaker(engine)() as session, session.begin():
                return await fn(session)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def with_sessionmaker(
    fn: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]],
) -> T:
    """Run fn with a sessionmaker on a migrated database (for work that manages its own
    transactions)."""
    settings = get_settings()
    url = migrate(settings)

    async def runner() -> T:
        engine = make_engine(url, pool_size=2, max_overflow=0)
        try:
            return await fn(make_sessionmaker(engine))
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def every_item(
    fetch: Callable[[AsyncSession, str | None], Awaitable[tuple[list[T], str | None]]],
) -> list[T]:
    """Follow a paginated service call from the first page to the last, in one transaction."""

    async def every_page(session: AsyncSession) -> list[T]:
        items: list[T] = []
        cursor: str | None = None
        while True:
            page, cursor = await fetch(session, cursor)
            items.extend(page)
            if cursor is None:
                return items

    return in_transaction(every_page)


def emit(args: argparse.Namespace, obj: dict[str, Any], human: str) -> None:
    """Print obj as JSON with --json, else the human text."""
    if getattr(args, "json", False):
        print(json.dumps(obj, default=str))
    else:
        print(human)


def fail(args: argparse.Namespace, err: AppError | str, code: int = 1) -> int:
    """Report an error (as problem JSON with --json) and return the exit code."""
    if isinstance(err, AppError):
        problem = err.to_problem()
        message = problem["detail"]
        for e in problem.get("errors") or []:
            message += f"\n  {e['field']}: {e['message']}"
    else:
        problem = {"status": code, "detail": err}
        message = err
    if getattr(args, "json", False):
        print(json.dumps({"error": problem}, default=str))
    print(f"error: {message}", file=sys.stderr)
    return code
