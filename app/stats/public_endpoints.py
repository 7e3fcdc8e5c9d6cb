"""The public transparency routes (no token): published reports only.

`GET /transparency` (HTML) and `GET /transparency.json` list the published reports and
show the newest; `GET /transparency/reports/{period}.json` serves one frozen, signed
report byte for byte. No route takes a free period: the public sees whole, closed,
non-overlapping periods, so no two public numbers can be differenced
(app/stats/publication.py).
"""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse

from app.db import ReadSessionDep
from app.errors import field_error, problem_responses
from app.stats import i18n, page, publication
from app.stats.period import NAME_PATTERN
from app.stats.public_schemas import SignedReport, TransparencyIndex

router = APIRouter(tags=["transparency"])

# Nothing may come from elsewhere: the page must work on an air-gapped network, and a
# CSP this strict also means injected markup could not load or run anything.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
CACHE_SECONDS = 60
"""The index and the page change when a report is published: a short cache."""
LATEST_CACHE_SECONDS = 300
"""A report without `?revision=` may gain a revision; a named revision never changes."""
FROZEN_CACHE = "public, max-age=31536000, immutable"
_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": f"public, max-age={CACHE_SECONDS}",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
FREE_PERIOD_PARAMETERS = ("from", "to", "year")
"""What the page once accepted: refused now, so no caller mistakes the newest report for
the range it asked for."""


def refuse_free_periods(request: Request) -> None:
    """422 for `from`, `to` or `year`: the public sees only the published periods."""
    for name in FREE_PERIOD_PARAMETERS:
        if name in request.query_params:
            raise field_error(
                name,
                "the public sees only published reports of whole periods; "
                "their list is at /transparency.json",
            )


NoFreePeriods = Depends(refuse_free_periods)
PeriodName = Annotated[
    str | None,
    Query(
        pattern=NAME_PATTERN,
        description="A published period (2026-H1, 2026-Q3 or 2026); default: the newest",
    ),
]
Language = Annotated[
    str | None,
    Query(
        max_length=35,
        pattern=r"^[A-Za-z]{1,8}([-_][A-Za-z0-9]{1,8})*$",
        description="The page's language (en, id, ms, th, my, fil; a region such as th-TH "
        "is accepted); a language the page does not offer is 422. Default: the best match "
        "of Accept-Language, else English",
    ),
]


@router.get(
    "/transparency.json",
    response_model=TransparencyIndex,
    response_model_by_alias=True,
    responses=problem_responses(422),
    dependencies=[NoFreePeriods],
)
async def transparency_data(session: ReadSessionDep) -> JSONResponse:
    """Every published report (each revision, with its URL) and the newest one in full."""
    view = await publication.public_view(session=session)
    return JSONResponse(
        view.index.model_dump(mode="json", by_alias=True),
        headers={**_HEADERS, "Access-Control-Allow-Origin": "*"},
    )


@router.get(
    "/transparency",
    response_class=HTMLResponse,
    responses=problem_responses(404, 422),
    dependencies=[NoFreePeriods],
)
async def transparency_page(
    request: Request, session: ReadSessionDep, period: PeriodName = None, lang: Language = None
) -> HTMLResponse:
    """The public transparency page, in the reader's language: the published reports,
    charts drawn on the server."""
    loc = i18n.page_locale(
        i18n.choose(lang=lang, accept_language=request.headers.get("accept-language"))
    )
    view = await publication.public_view(session=session, period=period)
    html = loc.templates.get_template("transparency.html").render(**page.page_context(view, loc))
    return HTMLResponse(
        html,
        headers={**_HEADERS, "Content-Language": loc.tag, "Vary": "Accept-Language"},
    )


@router.get(
    "/transparency/reports/{period}.json",
    response_model=SignedReport,
    responses={
        304: {"description": "Not modified (the ETag given in If-None-Match still holds)"},
        **problem_responses(404, 422),
    },
)
async def published_report(
    request: Request,
    session: ReadSessionDep,
    period: Annotated[str, PathParam(pattern=NAME_PATTERN, description="2026-H1, 2026-Q3 or 2026")],
    revision: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="A revision; default: the newest")
    ] = None,
) -> Response:
    """One frozen report and its signature, the same bytes on every fetch (404 for a
    period that is not published, such as the current one)."""
    stored, body = await publication.signed_envelope(
        session=session, period=period, revision=revision
    )
    etag = f'"{stored.period}-{stored.revision}-{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": FROZEN_CACHE
        if revision is not None
        else f"public, max-age={LATEST_CACHE_SECONDS}",
        "X-Content-Type-Options": "nosniff",
        "Access-Control-Allow-Origin": "*",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
