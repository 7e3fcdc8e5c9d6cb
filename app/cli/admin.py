"""`flagbridge serve`, `migrate`, `openapi` and `keys`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
from typing import Any

from app.auth import keys as keyring
from app.cli.common import (
    command,
    database_url,
    emit,
    fail,
    group,
    migrate,
    with_sessionmaker,
)
from app.config import get_settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add serve, migrate, openapi and keys."""
    serve = sub.add_parser(
        "serve",
        help="migrate, then serve the API",
        description="Apply migrations, then serve the HTTP API with uvicorn.",
    )
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=1, help="server processes (default 1)")
    serve.add_argument(
        "--worker-healthcheck-timeout",
        type=int,
        default=30,
        metavar="SECONDS",
        help="with several workers, restart one that has not answered the supervisor's ping "
        "for this long (default 30; uvicorn's 5 kills workers still starting on a busy host)",
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For from FORWARDED_ALLOW_IPS (behind a reverse proxy)",
    )
    serve.set_defaults(func=cmd_serve)

    command(sub, "migrate", cmd_migrate, help="apply database migrations")

    spec = sub.add_parser("openapi", help="print the OpenAPI document (JSON) on stdout")
    spec.set_defaults(func=cmd_openapi)

    keys_sub = group(sub, "keys", help="manage token signing keys")
    command(keys_sub, "list", cmd_keys_list, help="list signing keys")
    command(
        keys_sub,
        "rotate",
        cmd_keys_rotate,
        help="create a new signing key; older keys keep verifying live tokens",
    )
    retire = command(
        keys_sub,
        "retire",
        cmd_keys_retire,
        help="stop a non-active key from signing (keeps verifying unless --forget)",
    )
    retire.add_argument(
        "kid", help="the key id; one that starts with '-' goes after '--' (retire -- -Xy...)"
    )
    retire.add_argument("--forget", action="store_true", help="also stop verifying with it")


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply Alembic migrations."""
    settings = get_settings()
    migrate(settings)
    from app.audit.partitions import ensure_partitions_if_allowed
    from app.migrations import head_revision

    created = with_sessionmaker(ensure_partitions_if_allowed)
    head = head_revision(settings.migrations_dir)
    emit(
        args,
        {"status": "ok", "head": head, "audit_partitions_created": created},
        f"database at {head}",
    )
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Migrate, then run uvicorn (workers inherit the resolved DATABASE_URL)."""
    import uvicorn

    settings = get_settings()
    url = database_url(settings)
    migrate(settings, url)
    keyring.load_key_ring(settings)  # generate the first key here, not in N workers at once
    os.environ["DATABASE_URL"] = url
    get_settings.cache_clear()
    if args.workers > 1:
        prom_dir = settings.data_dir.resolve() / "prometheus"
        shutil.rmtree(prom_dir, ignore_errors=True)
        prom_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(prom_dir)
    # One private metrics listener in this (the supervising) process for every worker.
    from app.ops import metrics_listener

    try:
        metrics = metrics_listener.start(settings.metrics_bind)
    except (metrics_listener.BadBind, OSError) as exc:
        return fail(args, f"metrics listener: {exc}")
    if metrics is not None:
        host, port = metrics.address
        logging.getLogger("flagbridge").info(
            "metrics listener started", extra={"metrics_url": f"http://{host}:{port}/metrics"}
        )
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit lets
    # atexit hooks run, so the embedded PostgreSQL this process started is stopped too.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    uvicorn.run(
        "app.cli.admin:served_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        timeout_worker_healthcheck=args.worker_healthcheck_timeout,
        access_log=False,
        log_config=None,
        proxy_headers=args.proxy_headers,
        server_header=False,
    )
    return 0


def served_app() -> Any:
    """The app of one server process, logging as `serve` does.

    Worker processes start afresh (spawned, not forked), so the logging that `flagbridge
    serve` set up in the supervisor is not theirs: without this their access log is silent
    and their errors are printed as plain text.
    """
    from app.main import create_app
    from app.observability import configure_logging

    configure_logging(get_settings().log_level)
    return create_app()


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def cmd_openapi(args: argparse.Namespace) -> int:
    """Print the OpenAPI document."""
    from app.main import create_app

    spec = create_app().openapi()
    sys.stdout.write(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List the keys in the key folder."""
    kdir = get_settings().resolved_keys_dir
    items = keyring.list_keys(kdir)

    def role(k: dict[str, object]) -> str:
        if k["active"]:
            return "active (signs)"
        return "signing-capable" if k["private"] else "verify-only"

    lines = [f"{k['kid']}  {role(k)}" for k in items]
    emit(args, {"keys": items}, "\n".join(lines) or "(no keys yet; one is made on first start)")
    return 0


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Generate and activate a new key."""
    kdir = get_settings().resolved_keys_dir
    kid = keyring.generate_key(kdir)
    emit(
        args,
        {"kid": kid, "active": True},
        f"new signing key {kid}; restart the server (or wait for its reload) to sign with it",
    )
    return 0


def cmd_keys_retire(args: argparse.Namespace) -> int:
    """Retire a key."""
    kdir = get_settings().resolved_keys_dir
    try:
        keyring.retire_key(kdir, args.kid, forget=args.forget)
    except (ValueError, FileNotFoundError) as exc:
        return fail(args, str(exc))
    emit(args, {"kid": args.kid, "retired": True, "forgotten": args.forget}, f"retired {args.kid}")
    return 0
