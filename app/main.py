"""The FastAPI application: lifespan wiring, routers, error handlers, middleware."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from app import __version__
from app.audit import checkpoints, partitions, sealing, verification
from app.audit import endpoints as audit_endpoints
from app.auth import endpoints as auth_endpoints
from app.auth.keys import load_key_ring
from app.auth.revocation import RevocationList
from app.auth.secrets import gate as hash_gate
from app.auth.tokens import TokenVerifier
from app.config import Settings, get_settings
from app.db import (
    make_engine,
    make_pg_pool,
    make_read_replica,
    make_sessionmaker,
    wait_for_database,
)
from app.deadlines import endpoints as deadlines_endpoints
from app.embedded import resolve_database_url_async, to_asyncpg_url
from app.errors import Problem, register_error_handlers
from app.feeds import endpoints as feeds_endpoints
from app.feeds.notify import FeedNotifier, FeedWaiters
from app.flags import endpoints as flags_endpoints
from app.flags import statement_endpoints
from app.flags.group_commit import GroupCommitter
from app.flags.schemas import FlagCreate
from app.holds import endpoints as holds_endpoints
from app.holds import service as holds_service
from app.kit import idempotency
from app.kit.gil import set_switch_interval
from app.kit.listener import PgListener, asyncpg_dsn
from app.kit.memory import return_large_blocks_to_the_system
from app.kit.periodic import Periodic
from app.middleware import RequestContextMiddleware, document_cross_cutting_statuses
from app.migrations import head_revision
from app.observability import READ_REPLICA_LAG
from app.ops import endpoints as ops_endpoints
from app.orgs import endpoints as orgs_endpoints
from app.platform_reports import endpoints as platform_reports_endpoints
from app.ratelimit import endpoints as ratelimit_endpoints
from app.ratelimit.limiter import Limiter
from app.responses import endpoints as responses_endpoints
from app.retention import service as retention
from app.stats import endpoints as stats_endpoints
from app.stats import i18n as transparency_i18n
from app.stats import public_endpoints as transparency_endpoints
from app.stats import publication
from app.stats import service as stats_service
from app.webhooks import endpoints as webhooks_endpoints
from app.webhooks.worker import DeliveryWorker

log = logging.getLogger(__name__)

DESCRIPTION = """\
FlagBridge carries referrals of social-media accounts that serve terrorist networks from
government agencies to the platforms that host them, and the platforms' answers back.
Every change is audited. Authenticate with OAuth 2.0 client credentials at `/oauth/token`.
Errors are RFC 9457 `application/problem+json`.
"""


def operation_id(route: APIRoute) -> str:
    """A route's OpenAPI operation id: its function's name, so it is written only once."""
    return route.name


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> FastAPI:
    """Build the application; the database URL is resolved in the lifespan unless given."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        return_large_blocks_to_the_system()
        set_switch_interval(settings.gil_switch_interval_ms)
        # The page's catalogues and templates, read once here rather than on a request.
        await asyncio.to_thread(transparency_i18n.warm)
        url = database_url or await resolve_database_url_async(
            settings.database_url, settings.data_dir
        )
        await wait_for_database(url, within=settings.database_start_wait_seconds)
        engine = make_engine(
            url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow
        )
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = make_sessionmaker(engine)
        app.state.read_replica = make_read_replica(
            settings.read_database_url and to_asyncpg_url(settings.read_database_url),
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
        )
        app.state.schema_head = head_revision(settings.migrations_dir)
        ring = load_key_ring(settings)
        app.state.verifier = TokenVerifier(
            ring,
            issuer=settings.issuer,
            audience=settings.audience,
            max_lifetime=settings.token_ttl_seconds,
            reload=lambda: load_key_ring(settings),
            source_version=(
                None if settings.signing_key_pem else lambda: _mtime_ns(settings.resolved_keys_dir)
            ),
        )
        app.state.pg_pool = await make_pg_pool(url, max_size=settings.db_pool_size)
        app.state.submissions = GroupCommitter(
            app.state.pg_pool,
            route=flags_endpoints.SUBMIT_ROUTE,
            max_in_flight=settings.submit_group_in_flight,
        )
        listener = PgListener(asyncpg_dsn(url))
        app.state.listener = listener
        app.state.revocations = RevocationList(
            engine, listener, settings.revocation_refresh_seconds
        )
        hash_gate.configure(
            concurrency=settings.rate_hash_concurrency,
            queue=settings.rate_hash_queue,
            profile=settings.argon2_profile,
        )
        app.state.rate_limits = Limiter(app.state.sessionmaker, settings)
        await app.state.rate_limits.start()
        app.state.feed_waiters = FeedWaiters()
        app.state.feed_notifier = FeedNotifier(listener, app.state.feed_waiters)
        await listener.start()
        await app.state.revocations.start()
        await app.state.feed_notifier.start()
        try:
            await partitions.ensure_partitions_if_allowed(app.state.sessionmaker)
        except Exception:
            log.warning("could not create the audit log's next partitions", exc_info=True)
        jobs = _periodic_jobs(app, settings)
        for job in jobs:
            job.start()
        if settings.env != "test":
            # Everything loaded so far lives as long as the process: keep the collector
            # from re-scanning it (full collections of a large heap are long pauses).
            gc.collect()
            gc.freeze()
        log.info("flagbridge started", extra={"kid": ring.signing_kid})
        try:
            yield
        finally:
            for job in jobs:
                await job.stop()
            await app.state.feed_notifier.stop()
            await app.state.rate_limits.stop()
            await app.state.revocations.stop()
            await listener.stop()
            await app.state.pg_pool.close()
            await engine.dispose()
            if app.state.read_replica is not None:
                await app.state.read_replica.engine.dispose()

    app = FastAPI(
        # FastAPI looks for OpenTelemetry providers on every request unless told not to.
        telemetry=None
        if settings.opentelemetry
        else {"tracing": False, "metrics": False, "logs": False},
        title="FlagBridge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=operation_id,
        openapi_tags=[
            {"name": "auth", "description": "Tokens and signing keys"},
            {"name": "flags", "description": "Agencies: submit and follow flags"},
            {"name": "platform responses", "description": "Platforms: acknowledge and answer"},
            {"name": "holds", "description": "Agencies: deconfliction holds"},
            {"name": "feed", "description": "Every organisation's event feed"},
            {"name": "statistics", "description": "Dashboards: exact counts and response times"},
            {"name": "platform reports", "description": "Platforms: their own period totals"},
            {"name": "audit", "description": "Auditors: the append-only audit log"},
            {"name": "admin", "description": "Organisations and API clients (scope `admin`)"},
            {"name": "operations", "description": "Health, readiness and metrics"},
            {
                "name": "transparency",
                "description": "Public, no token: the transparency page and its figures",
            },
        ],
    )
    register_error_handlers(app)
    # The order is the order of paths in the OpenAPI document.
    for routes in (
        auth_endpoints,
        flags_endpoints,
        statement_endpoints,
        responses_endpoints,
        holds_endpoints,
        feeds_endpoints,
        webhooks_endpoints,
        platform_reports_endpoints,
        stats_endpoints,
        audit_endpoints,
        orgs_endpoints,
        ratelimit_endpoints,
        deadlines_endpoints,
        ops_endpoints,
        transparency_endpoints,
    ):
        app.include_router(routes.router)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_batch_body_bytes=settings.max_batch_body_bytes,
        direct_routes={("POST", "/v1/flags"): flags_endpoints.submit_flag},
    )
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


def _periodic_jobs(app: FastAPI, settings: Settings) -> list[Periodic]:
    """Background work of every process; each job is safe with several processes."""
    state = app.state

    async def reload_keys() -> None:
        # Pick up rotated keys without a restart (the files are few and small).
        await state.verifier.refresh(force=True)

    async def expire_holds() -> None:
        await holds_service.sweep_expired_holds(
            sessionmaker=state.sessionmaker, poke=state.feed_notifier.poke
        )

    async def prune_idempotency_keys() -> None:
        async with state.sessionmaker() as session, session.begin():
            await idempotency.prune(session, retention_hours=settings.idempotency_retention_hours)

    async def seal_audit_log() -> None:
        await sealing.seal_pending(state.sessionmaker)
        await checkpoints.create_if_due(
            state.sessionmaker,
            state.verifier.ring,
            min_interval=timedelta(seconds=settings.audit_checkpoint_seconds),
        )

    async def verify_audit_log() -> None:
        await verification.verify_fully_if_due(
            state.sessionmaker,
            state.verifier.ring,
            every=timedelta(seconds=settings.audit_full_verify_every_seconds),
        )

    async def make_audit_partitions() -> None:
        await partitions.ensure_partitions_if_allowed(state.sessionmaker)

    async def fold_stats() -> None:
        await stats_service.fold_stripes(sessionmaker=state.sessionmaker)

    async def publish_transparency_reports() -> None:
        await publication.publish_due(
            sessionmaker=state.sessionmaker,
            ring=state.verifier.ring,
            policy=publication.Policy.from_settings(settings),
        )

    async def refresh_rate_limits() -> None:
        await state.rate_limits.policies.refresh(state.sessionmaker)

    jobs = [
        Periodic("rate-limit-policies", settings.rate_policy_refresh_seconds, refresh_rate_limits),
        Periodic("rate-limit-prune", 600.0, lambda: state.rate_limits.prune()),
        Periodic("audit-seal", settings.audit_seal_seconds, seal_audit_log),
        Periodic("audit-partitions", 6 * 3600.0, make_audit_partitions),
        # Hourly look, daily run: a restart more often than daily must not skip it.
        Periodic("audit-verify", 3600.0, verify_audit_log),
        Periodic("stats-fold", settings.stats_fold_seconds, fold_stats),
        Periodic("key-reload", settings.key_reload_seconds, reload_keys),
        Periodic("hold-expiry", settings.hold_sweep_seconds, expire_holds),
        Periodic("idempotency-prune", 600.0, prune_idempotency_keys),
        Periodic(
            "transparency-publish",
            settings.transparency_publish_seconds,
            publish_transparency_reports,
        ),
    ]
    if settings.retention_days is not None:
        days = settings.retention_days

        async def apply_retention() -> None:
            await retention.run(
                sessionmaker=state.sessionmaker,
                days=days,
                feed_days=settings.feed_retention_days,
            )

        jobs.append(Periodic("retention", settings.retention_sweep_seconds, apply_retention))
    elif settings.env == "production":
        log.warning(
            "RETENTION IS OFF: personal data of closed and withdrawn flags is kept forever; "
            "set FLAGBRIDGE_RETENTION_DAYS (see docs/operations.md#retention)"
        )
    if state.read_replica is not None:

        async def measure_replica_lag() -> None:
            READ_REPLICA_LAG.set(await state.read_replica.lag_seconds())

        seconds = settings.read_replica_lag_refresh_seconds
        jobs.append(Periodic("read-replica-lag", seconds, measure_replica_lag))
    if settings.webhook_worker_in_serve:
        webhooks = DeliveryWorker(state.sessionmaker, settings)
        jobs.append(Periodic("webhook-delivery", settings.webhook_poll_seconds, webhooks.drain))
    return jobs


def _mtime_ns(path: Path) -> int | None:
    """The folder's modification time: it changes when key files are added or renamed."""
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def build_openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document, with the Problem schema registered once."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
        tags=app.openapi_tags,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.setdefault(
        "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    components.update(
        {
            k: v
            for k, v in Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            .get("$defs", {})
            .items()
        }
    )
    components["Problem"].pop("$defs", None)
    document_cross_cutting_statuses(schema)
    # Routes that validate their body themselves reference these schemas by name.
    for model in (FlagCreate,):
        body_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in body_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components.setdefault(model.__name__, body_schema)
    app.openapi_schema = schema
    return schema
