"""Request and response models of the administration API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from app.identity.profiles import PROFILES
from app.kit.schemas import StrictModel
from app.vocabulary import OrgKind


class OrganizationCreate(StrictModel):
    """An organisation to register."""

    kind: OrgKind
    name: str = Field(min_length=1, max_length=200)
    country: str | None = Field(
        default=None,
        min_length=2,
        max_length=2,
        description="ISO 3166-1 alpha-2; required for agencies, refused for others.",
    )
    platform: str | None = Field(
        default=None,
        pattern=r"^[a-z0-9][a-z0-9-]{0,62}$",
        description="Platform slug (e.g. twitter); required for platforms, refused for others.",
    )
    identity_profile: str | None = Field(
        default=None,
        max_length=63,
        description="Platforms only: the identity profile its account identifiers follow "
        f"({', '.join(PROFILES)}); default: the one named like the slug, else generic.",
    )


class OrganizationUpdate(StrictModel):
    """What an operator may change about an organisation."""

    identity_profile: str = Field(
        max_length=63,
        description=f"Platforms only: {', '.join(PROFILES)}. New submissions and holds use it "
        "at once; accounts already known keep their keys.",
    )


class OrganizationOut(BaseModel):
    """A registered organisation."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: OrgKind
    name: str
    country: str | None
    platform: str | None
    identity_profile: str | None = Field(description="Platforms only; null for other kinds")
    created_at: datetime


class OrganizationPage(BaseModel):
    """A page of organisations."""

    items: list[OrganizationOut]
    next_cursor: str | None


class ClientCreate(StrictModel):
    """An API client to create for an organisation."""

    organization_id: uuid.UUID
    name: str = Field(min_length=1, max_length=200)
    scopes: list[str] | None = Field(
        default=None,
        max_length=16,
        description="Scopes to grant; default: every scope the organisation's kind allows.",
    )


class ClientOut(BaseModel):
    """An API client (never with its secret)."""

    model_config = ConfigDict(from_attributes=True)

    client_id: uuid.UUID = Field(validation_alias=AliasChoices("client_id", "id"))
    organization_id: uuid.UUID
    name: str
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None


class ClientCreated(ClientOut):
    """A new client with its secret, shown this once and stored only as a hash."""

    client_secret: str


class ClientPage(BaseModel):
    """A page of clients."""

    items: list[ClientOut]
    next_cursor: str | None
