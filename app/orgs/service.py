"""Rules of administration: which organisations and clients may exist."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit import service as audit
from app.auth.principal import Principal
from app.auth.scopes import allowed_scopes
from app.auth.secrets import hash_secret, new_secret
from app.errors import Conflict, NotFound, field_error
from app.identity.profiles import PROFILES, default_profile_name
from app.kit.countries import ISO_3166_ALPHA2
from app.kit.pagination import decode_time_id_cursor, keyset_page
from app.models import ApiClient, Organization
from app.orgs import repository as repo
from app.orgs.schemas import ClientCreate, OrganizationCreate, OrganizationUpdate


async def _audit(
    session: AsyncSession,
    actor: Principal | None,
    actor_label: str | None,
    action: str,
    row: Organization | ApiClient,
    data: dict[str, Any],
) -> None:
    # Administrative changes are audited against the row's own table and id.
    await audit.record(
        session=session,
        actor=actor,
        actor_label=actor_label,
        action=action,
        object_type=row.__tablename__,
        object_id=row.id,
        data=data,
    )


async def create_organization(
    *,
    session: AsyncSession,
    actor: Principal | None,
    data: OrganizationCreate,
    actor_label: str | None = None,
) -> Organization:
    """Register an organisation after checking that country/platform fit its kind."""
    country = data.country.upper() if data.country else None
    if data.kind == "agency":
        if country is None:
            raise field_error("country", "agencies need an ISO 3166-1 alpha-2 country")
        if country not in ISO_3166_ALPHA2:
            raise field_error("country", f"{data.country!r} is not an ISO 3166-1 alpha-2 code")
    elif country is not None:
        raise field_error("country", "only agencies have a country")
    profile = None
    if data.kind == "platform":
        if data.platform is None:
            raise field_error("platform", "platforms need a platform slug")
        profile = _known_profile(data.identity_profile or default_profile_name(data.platform))
    elif data.platform is not None:
        raise field_error("platform", "only platforms have a platform slug")
    elif data.identity_profile is not None:
        raise field_error("identity_profile", "only platforms have an identity profile")
    try:
        org = await repo.insert_org(
            session,
            kind=data.kind,
            name=data.name,
            country=country,
            platform=data.platform,
            identity_profile=profile,
        )
    except IntegrityError as exc:
        what = "platform" if "platform" in str(exc.orig) else "name"
        raise Conflict(f"An organisation with this {what} already exists", field=what) from exc
    facts = {"kind": org.kind, "name": org.name, "country": country, "platform": org.platform}
    if profile is not None:
        facts["identity_profile"] = profile
    await _audit(session, actor, actor_label, "organization.created", org, facts)
    return org


def _known_profile(name: str) -> str:
    if name not in PROFILES:
        raise field_error("identity_profile", f"must be one of: {', '.join(PROFILES)}")
    return name


async def update_organization(
    *,
    session: AsyncSession,
    actor: Principal | None,
    org_id: uuid.UUID,
    data: OrganizationUpdate,
    actor_label: str | None = None,
) -> Organization:
    """Change a platform's identity profile (audited with the old and new value)."""
    org = await repo.get_org(session, org_id)
    if org is None:
        raise NotFound("No such organisation")
    if org.kind != "platform":
        raise field_error("identity_profile", "only platforms have an identity profile")
    profile, old = _known_profile(data.identity_profile), org.identity_profile
    if profile != old:
        org = await repo.set_identity_profile(session, org, profile)
        facts = {"identity_profile": profile, "previous": old}
        await _audit(session, actor, actor_label, "organization.updated", org, facts)
    return org


async def list_organizations(
    *, session: AsyncSession, cursor: str | None, limit: int, kind: str | None = None
) -> tuple[list[Organization], str | None]:
    """A page of organisations and the cursor of the next one."""
    after = decode_time_id_cursor(cursor)
    rows = await repo.list_orgs(session, after=after, limit=limit + 1, kind=kind)
    return keyset_page(rows, limit, lambda r: (r.created_at, r.id))


async def create_client(
    *,
    session: AsyncSession,
    actor: Principal | None,
    data: ClientCreate,
    actor_label: str | None = None,
) -> tuple[ApiClient, str]:
    """Create a client for an organisation; returns it with its one-time secret."""
    org = await repo.get_org(session, data.organization_id)
    if org is None:
        raise NotFound("No such organisation")
    allowed = allowed_scopes(org.kind)
    scopes = list(dict.fromkeys(data.scopes)) if data.scopes is not None else list(allowed)
    bad = [s for s in scopes if s not in allowed]
    if bad or not scopes:
        raise field_error(
            "scopes",
            f"a {org.kind} may hold only: {' '.join(allowed)}"
            + (f" (not {' '.join(bad)})" if bad else ""),
        )
    secret = new_secret()
    client = await repo.insert_client(
        session,
        organization_id=org.id,
        name=data.name,
        secret_hash=await hash_secret(secret),
        scopes=scopes,
    )
    facts = {"organization_id": str(org.id), "name": client.name, "scopes": scopes}
    await _audit(session, actor, actor_label, "client.created", client, facts)
    return client, secret


async def reissue_secret(
    *, session: AsyncSession, actor: Principal | None, client_id: uuid.UUID
) -> str:
    """Give a client a new secret (the old one stops working) and return it, once.

    A retried creation (same Idempotency-Key) gets the client it created with a new
    secret: the first answer may have been lost, and the secret is never stored in clear,
    not even in the idempotency record, so it cannot be replayed.
    """
    client = await repo.get_client(session, client_id)
    if client is None:
        raise NotFound("No such client")
    secret = new_secret()
    await repo.set_secret_hash(session, client_id, await hash_secret(secret))
    facts = {"organization_id": str(client.organization_id), "reason": "idempotent retry"}
    await _audit(session, actor, None, "client.secret_reissued", client, facts)
    return secret


async def list_clients(
    *,
    session: AsyncSession,
    organization_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ApiClient], str | None]:
    """A page of clients and the cursor of the next one."""
    after = decode_time_id_cursor(cursor)
    rows = await repo.list_clients(
        session, organization_id=organization_id, after=after, limit=limit + 1
    )
    return keyset_page(rows, limit, lambda r: (r.created_at, r.id))


async def revoke_client(
    *,
    session: AsyncSession,
    actor: Principal | None,
    client_id: uuid.UUID,
    actor_label: str | None = None,
) -> ApiClient:
    """Revoke a client: its live tokens stop working in every process at once."""
    existing = await repo.get_client(session, client_id)
    if existing is None:
        raise NotFound("No such client")
    if existing.revoked_at is not None:
        return existing
    client = await repo.mark_revoked(session, client_id)
    assert client is not None
    facts = {"organization_id": str(client.organization_id)}
    await _audit(session, actor, actor_label, "client.revoked", client, facts)
    return client
