"""Response models of the probes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    """The process is up."""

    status: Literal["ok"]


class Readiness(BaseModel):
    """The database answers and its schema is the newest migration."""

    status: Literal["ready"]
    schema_: str = Field(alias="schema", description="The Alembic revision of the database")
