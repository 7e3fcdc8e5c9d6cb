"""Administration routes (scope `admin`)."""

from __future__ import annotations

import json
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from app.auth.dependencies import AdminDep
from app.db import SessionDep
from app.errors import AUTH_ERRORS, problem_responses
from app.kit.idempotency import IdempotencyKey
from app.kit.idempotent_route import Created, create_once
from app.kit.no_store import no_store
from app.kit.pagination import CursorParam, LimitParam
from app.orgs import service
from app.orgs.schemas import (
    ClientCreate,
    ClientCreated,
    ClientOut,
    ClientPage,
    OrganizationCreate,
    OrganizationOut,
    OrganizationPage,
    OrganizationUpdate,
)
from app.vocabulary import OrgKind

router = APIRouter(prefix="/v1/admin", tags=["admin"])
ORG_ROUTE = "POST /v1/admin/organizations"
CLIENT_ROUTE = "POST /v1/admin/clients"


@router.post(
    "/organizations",
    status_code=201,
    response_model=OrganizationOut,
    operation_id="create_organization",
    responses=problem_responses(*AUTH_ERRORS, 409),
)
async def create_organization(
    body: OrganizationCreate,
    principal: AdminDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Register an agency, platform, observer or operator."""

    async def create() -> Created:
        org = await service.create_organization(session=session, actor=principal, data=body)
        return Created(201, OrganizationOut.model_validate(org).model_dump(mode="json"))

    return await create_once(
        session, principal.client_id, ORG_ROUTE, key=idempotency_key, request=body, create=create
    )


@router.patch(
    "/organizations/{org_id}",
    response_model=OrganizationOut,
    operation_id="update_organization",
    responses=problem_responses(*AUTH_ERRORS, 404),
)
async def update_organization(
    org_id: uuid.UUID, body: OrganizationUpdate, principal: AdminDep, session: SessionDep
) -> OrganizationOut:
    """Change a platform's identity profile (which account identifiers it accepts)."""
    org = await service.update_organization(
        session=session, actor=principal, org_id=org_id, data=body
    )
    return OrganizationOut.model_validate(org)


@router.get(
    "/organizations",
    response_model=OrganizationPage,
    operation_id="list_organizations",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_organizations(
    principal: AdminDep,
    session: SessionDep,
    kind: OrgKind | None = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> OrganizationPage:
    """List organisations in creation order."""
    rows, nxt = await service.list_organizations(
        session=session, cursor=cursor, limit=limit, kind=kind
    )
    return OrganizationPage(
        items=[OrganizationOut.model_validate(r) for r in rows], next_cursor=nxt
    )


@router.post(
    "/clients",
    status_code=201,
    response_model=ClientCreated,
    operation_id="create_client",
    responses=problem_responses(*AUTH_ERRORS, 404, 409),
)
async def create_client(
    body: ClientCreate,
    principal: AdminDep,
    session: SessionDep,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create API credentials for an organisation; the secret is shown only in this response.

    A retry with the same Idempotency-Key creates nothing and answers with the same client
    and a new secret (the first one stops working): the secret is never stored in clear, so
    the lost answer cannot be replayed as it was."""

    async def create() -> Created:
        client, secret = await service.create_client(session=session, actor=principal, data=body)
        out = ClientCreated(**ClientOut.model_validate(client).model_dump(), client_secret=secret)
        return Created(201, out.model_dump(mode="json"))

    answer = await create_once(
        session,
        principal.client_id,
        CLIENT_ROUTE,
        key=idempotency_key,
        request=body,
        create=create,
        remember=lambda created: {**created, "client_secret": None},
    )
    if answer.headers.get("Idempotent-Replayed") == "true" and answer.status_code == 201:
        stored = json.loads(bytes(answer.body))
        stored["client_secret"] = await service.reissue_secret(
            session=session, actor=principal, client_id=uuid.UUID(stored["client_id"])
        )
        answer = JSONResponse(stored, status_code=201, headers={"Idempotent-Replayed": "true"})
    return no_store(answer)


@router.get(
    "/clients",
    response_model=ClientPage,
    operation_id="list_clients",
    responses=problem_responses(*AUTH_ERRORS),
)
async def list_clients(
    principal: AdminDep,
    session: SessionDep,
    organization_id: Annotated[uuid.UUID | None, Query()] = None,
    limit: LimitParam = 100,
    cursor: CursorParam = None,
) -> ClientPage:
    """List API clients (never their secrets)."""
    rows, nxt = await service.list_clients(
        session=session, organization_id=organization_id, cursor=cursor, limit=limit
    )
    return ClientPage(items=[ClientOut.model_validate(r) for r in rows], next_cursor=nxt)


@router.post(
    "/clients/{client_id}/revoke",
    response_model=ClientOut,
    operation_id="revoke_client",
    responses=problem_responses(*AUTH_ERRORS, 404),
)
async def revoke_client(
    client_id: uuid.UUID, request: Request, principal: AdminDep, session: SessionDep
) -> ClientOut:
    """Revoke a client; every token it holds stops working at once."""
    client = await service.revoke_client(session=session, actor=principal, client_id=client_id)
    request.app.state.revocations.mark_revoked(client_id)
    return ClientOut.model_validate(client)
