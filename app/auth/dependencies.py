"""The caller of a route, by the scope it must hold: one alias per scope, shared by routes.

A route declares `principal: AdminDep` (etc.); combinations a single domain needs (one of
several scopes) stay beside that domain's routes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from app.auth.principal import Principal, requires, requires_any

AdminDep = Annotated[Principal, Depends(requires("admin"))]
SubmitDep = Annotated[Principal, Depends(requires("flags:submit"))]
FlagsReadDep = Annotated[Principal, Depends(requires("flags:read"))]
RespondDep = Annotated[Principal, Depends(requires("flags:respond"))]
AuditReadDep = Annotated[Principal, Depends(requires("audit:read"))]
FeedReadDep = Annotated[Principal, Depends(requires("feed:read"))]
StatsReadDep = Annotated[Principal, Depends(requires("stats:read"))]
WitnessDep = Annotated[Principal, Depends(requires("audit:checkpoints"))]
# Clients made before audit:checkpoints existed and holding audit:read keep reading them.
CheckpointReadDep = Annotated[Principal, Depends(requires_any("audit:read", "audit:checkpoints"))]
