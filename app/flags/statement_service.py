"""A flag's statement of reasons as an agency files it: the JSON document and its page."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.errors import NotFound
from app.flags import statement_repository as repo
from app.kit.countries import country_name

_DOCUMENT_KEYS = (
    "agency",
    "platform",
    "country",
    "account",
    "kind",
    "category",
    "submitted_at",
    "closed_at",
    "outcome",
    "statement",
)
_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
AUTOMATED_DECISION_LABELS = {
    "fully": "Fully automated",
    "partially": "Partially automated",
    "not_automated": "Not automated",
}
GROUND_LABELS = {
    "illegal_content": "Illegal content",
    "terms_of_service": "Incompatible with the terms of service",
}


async def filed_statement(
    *, session: AsyncSession, principal: Principal, flag_id: uuid.UUID
) -> dict[str, Any]:
    """The statement document (StatementDocument) of a flag the caller may see; 404 when
    the flag is not visible or its platform gave no statement."""
    flag = await repo.filed_statement(session, principal=principal, flag_id=flag_id)
    if flag is None:
        raise NotFound("No such flag")
    if flag.get("statement") is None:
        raise NotFound("This flag's outcome has no statement of reasons")
    return {"flag_id": flag["id"], **{k: flag[k] for k in _DOCUMENT_KEYS}}


def statement_page(document: dict[str, Any]) -> str:
    """The printable HTML of a statement document (self-contained: no script, font or
    stylesheet from elsewhere)."""
    scope = document["statement"]["territorial_scope"]
    countries = [(code, country_name(code)) for code in scope.get("countries") or []]
    return _templates.get_template("statement.html").render(
        d=document,
        s=document["statement"],
        countries=countries,
        flag_country=country_name(document["country"]),
        ground_label=GROUND_LABELS[document["statement"]["ground"]],
        automation_label=AUTOMATED_DECISION_LABELS[document["statement"]["automated_decision"]],
    )
