"""`flagbridge org ...` and `flagbridge client ...`."""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import ValidationError

from app.auth.scopes import parse_scope_string
from app.cli.common import cli_actor, command, emit, every_item, fail, group, in_transaction
from app.errors import AppError, Unprocessable, invalid
from app.orgs import service
from app.orgs.schemas import ClientCreate, ClientOut, OrganizationCreate, OrganizationOut

T = TypeVar("T")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the org and client command groups."""
    org_sub = group(sub, "org", help="manage organisations")
    create = command(
        org_sub,
        "create",
        org_create,
        help="register an organisation",
        description="Register an agency (with --country), platform (with --platform), "
        "observer or operator.",
    )
    create.add_argument(
        "--kind", required=True, choices=["agency", "platform", "observer", "operator"]
    )
    create.add_argument("--name", required=True)
    create.add_argument("--country", help="ISO 3166-1 alpha-2 code (agencies)")
    create.add_argument("--platform", help="platform slug such as twitter (platforms)")
    create.add_argument(
        "--identity-profile",
        help="identity profile of a platform's accounts (twitter, facebook, instagram, "
        "youtube, tiktok, telegram, generic); default: the one named like the slug, else generic",
    )
    lst = command(org_sub, "list", org_list, help="list organisations")
    lst.add_argument("--kind", choices=["agency", "platform", "observer", "operator"])

    client_sub = group(sub, "client", help="manage API clients")
    ccreate = command(
        client_sub, "create", client_create, help="create API credentials (secret shown once)"
    )
    ccreate.add_argument("--org", required=True, help="organisation id")
    ccreate.add_argument("--name", required=True)
    ccreate.add_argument(
        "--scopes",
        help='space-separated scopes, e.g. "flags:submit flags:read"; '
        "default: all its organisation's kind allows",
    )
    revoke = command(
        client_sub, "revoke", client_revoke, help="revoke a client; its tokens stop working at once"
    )
    revoke.add_argument("client_id")
    clist = command(client_sub, "list", client_list, help="list API clients")
    clist.add_argument("--org", help="only this organisation's clients")


def _uuid_arg(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError as exc:
        raise Unprocessable(
            f"Invalid {field}", errors=[{"field": field, "message": "not a UUID"}]
        ) from exc


def _validate(model: type, **data: object):  # type: ignore[no-untyped-def]
    try:
        return model(**data)
    except ValidationError as exc:
        raise invalid(exc) from exc


def _as_operator(change: Callable[..., Awaitable[T]], **data: Any) -> T:
    """Run one `orgs.service` change in its own transaction, audited as the CLI's user."""
    return in_transaction(lambda s: change(session=s, actor=None, actor_label=cli_actor(), **data))


def org_create(args: argparse.Namespace) -> int:
    """Register an organisation."""
    try:
        data = _validate(
            OrganizationCreate,
            kind=args.kind,
            name=args.name,
            country=args.country,
            platform=args.platform,
            identity_profile=args.identity_profile,
        )
        org = _as_operator(service.create_organization, data=data)
    except AppError as err:
        return fail(args, err)
    out = OrganizationOut.model_validate(org).model_dump(mode="json")
    emit(args, out, f"created {org.kind} {org.name}: {org.id}")
    return 0


def org_list(args: argparse.Namespace) -> int:
    """List every organisation."""

    orgs = every_item(
        lambda s, cursor: service.list_organizations(
            session=s, cursor=cursor, limit=1000, kind=args.kind
        )
    )
    items = [OrganizationOut.model_validate(o).model_dump(mode="json") for o in orgs]
    lines = [
        f"{o['id']}  {o['kind']:<9} {o['country'] or o['platform'] or '':<10} {o['name']}"
        for o in items
    ]
    emit(args, {"items": items}, "\n".join(lines) or "(no organisations)")
    return 0


def client_create(args: argparse.Namespace) -> int:
    """Create API credentials for an organisation."""
    try:
        scopes = parse_scope_string(args.scopes) if args.scopes is not None else None
        data = _validate(
            ClientCreate,
            organization_id=_uuid_arg(args.org, "organization_id"),
            name=args.name,
            scopes=scopes,
        )
        client, secret = _as_operator(service.create_client, data=data)
    except AppError as err:
        return fail(args, err)
    out = ClientOut.model_validate(client).model_dump(mode="json")
    out["client_secret"] = secret
    emit(
        args,
        out,
        f"client_id:     {out['client_id']}\nclient_secret: {secret}\n"
        f"scopes:        {' '.join(out['scopes'])}\n(the secret is shown only now)",
    )
    return 0


def client_revoke(args: argparse.Namespace) -> int:
    """Revoke a client."""
    try:
        cid = _uuid_arg(args.client_id, "client_id")
        client = _as_operator(service.revoke_client, client_id=cid)
    except AppError as err:
        return fail(args, err)
    out = ClientOut.model_validate(client).model_dump(mode="json")
    emit(args, out, f"revoked {out['client_id']} at {out['revoked_at']}")
    return 0


def client_list(args: argparse.Namespace) -> int:
    """List API clients."""
    try:
        org_id = _uuid_arg(args.org, "organization_id") if args.org else None
    except AppError as err:
        return fail(args, err)

    clients = every_item(
        lambda s, cursor: service.list_clients(
            session=s, organization_id=org_id, cursor=cursor, limit=1000
        )
    )
    items = [ClientOut.model_validate(c).model_dump(mode="json") for c in clients]
    lines = []
    for c in items:
        revoked = "REVOKED " if c["revoked_at"] else ""
        lines.append(f"{c['client_id']}  {revoked}{c['name']}  [{' '.join(c['scopes'])}]")
    emit(args, {"items": items}, "\n".join(lines) or "(no clients)")
    return 0
