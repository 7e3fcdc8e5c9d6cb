"""`/healthz` and `/readyz` (metrics are on their own listener: app/ops/metrics_listener.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from app import sql_definitions
from app.errors import PROBLEM_MEDIA_TYPE, generic_problem, problem_responses
from app.ops.schemas import Health, Readiness

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=Health)
async def healthz() -> dict[str, str]:
    """The process is up (no dependency is checked)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={
        503: {
            **problem_responses(503)[503],
            "description": "Database unreachable or schema not current",
        }
    },
)
async def readyz(request: Request) -> Any:
    """The database answers, its schema is at the newest migration and its SQL functions
    are this version's (app/sql_definitions.py)."""
    state = request.app.state
    try:
        async with asyncio.timeout(2.0), state.engine.connect() as conn:
            current = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar()
            # sql_definitions exists from the revision that created it on (so at head).
            definitions = (
                (await conn.execute(text("SELECT max(digest) FROM sql_definitions"))).scalar()
                if current == state.schema_head
                else None
            )
    except Exception:
        problem = generic_problem(503, "Database unreachable")
        return JSONResponse(problem, status_code=503, media_type=PROBLEM_MEDIA_TYPE)
    if current != state.schema_head:
        problem = generic_problem(
            503, f"Schema at {current}, expected {state.schema_head}: run `flagbridge migrate`"
        )
        return JSONResponse(problem, status_code=503, media_type=PROBLEM_MEDIA_TYPE)
    if definitions != sql_definitions.digest():
        problem = generic_problem(
            503, "SQL functions differ from this version's: run `flagbridge migrate`"
        )
        return JSONResponse(problem, status_code=503, media_type=PROBLEM_MEDIA_TYPE)
    return {"status": "ready", "schema": current}
