"""The route of a flag's statement of reasons: JSON, or a printable HTML page."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.flags import statement_service as service
from app.flags.endpoints import ViewDep
from app.flags.schemas import StatementDocument

router = APIRouter(prefix="/v1/flags", tags=["flags"], responses=problem_responses(*AUTH_ERRORS))

# The page is self-contained: nothing may load from elsewhere, nothing may run.
_HTML_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "private, no-cache",
}


def _wants_html(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "html"
    accept = request.headers.get("accept", "")
    return "text/html" in accept and "application/json" not in accept


@router.get(
    "/{flag_id}/statement",
    response_model=StatementDocument,
    responses={
        200: {
            "description": "The statement as JSON, or as a printable HTML page with "
            "`Accept: text/html` or `?format=html`",
            "content": {"text/html": {"schema": {"type": "string"}}},
        },
        **problem_responses(404),
    },
)
async def get_flag_statement(
    flag_id: uuid.UUID,
    request: Request,
    principal: ViewDep,
    session: SessionDep,
    format_: Annotated[
        Literal["json", "html"] | None,
        Query(alias="format", description="`html` for the printable page; default: JSON"),
    ] = None,
) -> Response:
    """The platform's statement of reasons for its outcome, as the agency files it; 404
    when the flag has none. For the agency, the platform, auditors and operators."""
    document = await service.filed_statement(session=session, principal=principal, flag_id=flag_id)
    if _wants_html(request, format_):
        return HTMLResponse(service.statement_page(document), headers=_HTML_HEADERS)
    return JSONResponse(document)
