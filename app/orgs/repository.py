"""Every SQL statement of organisations and clients."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select, text, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.models import ApiClient, Organization


async def get_org(session: AsyncSession, org_id: uuid.UUID) -> Organization | None:
    """One organisation by id."""
    return await session.get(Organization, org_id)


async def insert_org(
    session: AsyncSession,
    *,
    kind: str,
    name: str,
    country: str | None,
    platform: str | None,
    identity_profile: str | None = None,
) -> Organization:
    """Insert an organisation and return it with its generated id."""
    org = Organization(
        kind=kind,
        name=name,
        country=country,
        platform=platform,
        identity_profile=identity_profile,
    )
    # A savepoint turns a unique violation into a clean error without poisoning the
    # request's transaction.
    async with session.begin_nested():
        session.add(org)
        await session.flush()
    await session.refresh(org)
    return org


async def set_identity_profile(
    session: AsyncSession, org: Organization, identity_profile: str
) -> Organization:
    """Change a platform's identity profile."""
    org.identity_profile = identity_profile
    await session.flush()
    return org


async def list_orgs(
    session: AsyncSession,
    *,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
    kind: str | None = None,
) -> list[Organization]:
    """Organisations in creation order, keyset-paginated."""
    stmt = select(Organization).order_by(Organization.created_at, Organization.id).limit(limit)
    if after is not None:
        stmt = stmt.where(tuple_(Organization.created_at, Organization.id) > tuple_(*after))
    if kind is not None:
        stmt = stmt.where(Organization.kind == kind)
    return list((await session.scalars(stmt)).all())


async def platform_names(session: AsyncSession) -> dict[str, str]:
    """Display name of every registered platform, by its slug."""
    rows = await session.execute(
        select(Organization.platform, Organization.name).where(Organization.kind == "platform")
    )
    return {slug: name for slug, name in rows if slug is not None}


async def insert_client(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID,
    name: str,
    secret_hash: str,
    scopes: list[str],
) -> ApiClient:
    """Insert an API client and return it."""
    client = ApiClient(
        organization_id=organization_id, name=name, secret_hash=secret_hash, scopes=scopes
    )
    session.add(client)
    await session.flush()
    await session.refresh(client)
    return client


async def set_secret_hash(session: AsyncSession, client_id: uuid.UUID, secret_hash: str) -> None:
    """Replace a client's secret hash."""
    await session.execute(
        update(ApiClient).where(ApiClient.id == client_id).values(secret_hash=secret_hash)
    )


async def get_client_with_org(
    session: AsyncSession, client_id: uuid.UUID
) -> tuple[ApiClient, Organization] | None:
    """A client and its organisation in one query (the token endpoint's only read)."""
    row = (
        await session.execute(
            select(ApiClient, Organization)
            .join(Organization, Organization.id == ApiClient.organization_id)
            .where(ApiClient.id == client_id)
        )
    ).first()
    return (row[0], row[1]) if row else None


async def get_client(session: AsyncSession, client_id: uuid.UUID) -> ApiClient | None:
    """One client by id."""
    return await session.get(ApiClient, client_id)


async def list_clients(
    session: AsyncSession,
    *,
    organization_id: uuid.UUID | None,
    after: tuple[datetime, uuid.UUID] | None,
    limit: int,
) -> list[ApiClient]:
    """Clients in creation order, optionally of one organisation, keyset-paginated."""
    stmt = select(ApiClient).order_by(ApiClient.created_at, ApiClient.id).limit(limit)
    if organization_id is not None:
        stmt = stmt.where(ApiClient.organization_id == organization_id)
    if after is not None:
        stmt = stmt.where(tuple_(ApiClient.created_at, ApiClient.id) > tuple_(*after))
    return list((await session.scalars(stmt)).all())


async def mark_revoked(session: AsyncSession, client_id: uuid.UUID) -> ApiClient | None:
    """Set revoked_at (once) and NOTIFY every process in the same transaction."""
    await session.execute(
        update(ApiClient)
        .where(ApiClient.id == client_id, ApiClient.revoked_at.is_(None))
        .values(revoked_at=text("now()"))
    )
    await session.execute(
        text("SELECT pg_notify('flagbridge_client_revoked', :id)"), {"id": str(client_id)}
    )
    client = await session.get(ApiClient, client_id, populate_existing=True)
    return client
