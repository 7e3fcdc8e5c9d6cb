"""The baseline: a bare FastAPI + asyncpg endpoint that stores the same row as a submission.

No authentication, no validation beyond "the body is a JSON object", no idempotency, no
audit entry, no history, no feed event. One asyncpg `fetchval` inserts a new `account` row
and the `flag` row (with the same columns FlagBridge fills) in one statement, so it is one
round trip and one implicit transaction, like FlagBridge's `fb_submit_flag_requests`.

Configured by the environment (benchmarks/run.py sets it):
DATABASE_URL (postgresql://...), BENCH_AGENCY_ORG, BENCH_CLIENT_ID, BENCH_COUNTRY,
BENCH_PLATFORM_ORG, BENCH_POOL_SIZE (default 10, FlagBridge's default pool size).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

# A new account per flag: the flag table allows one live flag per (agency, account).
INSERT_SQL = """
WITH a AS (
    INSERT INTO account (platform, handle) VALUES ($1, $2) RETURNING id
)
INSERT INTO flag (agency_org_id, submitted_by_client_id, country, platform, platform_org_id,
                  account_id, account_ref, kind, category, priority, legal_basis, summary,
                  evidence, external_ref, status, submitted_at, opened_at, due_at)
SELECT $3, $4, $5, $1, $6, a.id, jsonb_build_object('id', NULL, 'handle', $2::text, 'url', NULL),
       $7, $8, $9, $10, $11, $12::jsonb, $13,
       'open', now(), now(), now() + interval '1 day'
FROM a
RETURNING id
"""


def _dsn() -> str:
    url = os.environ["DATABASE_URL"]
    for prefix in ("postgresql+asyncpg://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql://" + url[len(prefix) :]
    return url


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Open the pool and read the fixed ids once."""
    app.state.pool = await asyncpg.create_pool(
        _dsn(), min_size=1, max_size=int(os.environ.get("BENCH_POOL_SIZE", "10"))
    )
    app.state.agency = uuid.UUID(os.environ["BENCH_AGENCY_ORG"])
    app.state.client = uuid.UUID(os.environ["BENCH_CLIENT_ID"])
    app.state.country = os.environ.get("BENCH_COUNTRY", "ID")
    app.state.platform_org = uuid.UUID(os.environ["BENCH_PLATFORM_ORG"])
    try:
        yield
    finally:
        await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.get("/healthz")
async def healthz() -> dict[str, str]:
    """Readiness for the benchmark runner."""
    return {"status": "ok"}


@app.post("/flags", status_code=201)
async def create_flag(body: dict[str, Any], request: Request) -> JSONResponse:
    """Insert the account and the flag in one statement; answer with the flag's id."""
    state = request.app.state
    flag_id = await state.pool.fetchval(
        INSERT_SQL,
        body["platform"],
        body["account"]["handle"],
        state.agency,
        state.client,
        state.country,
        state.platform_org,
        body.get("kind", "referral"),
        body["category"],
        body.get("priority", "standard"),
        body["legal_basis"],
        body["summary"],
        json.dumps(body["evidence"]),
        body.get("external_ref"),
    )
    return JSONResponse({"id": str(flag_id)}, status_code=201)
