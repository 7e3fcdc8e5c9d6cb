"""What every route that changes one flag takes, and how it answers.

The agency's routes (withdraw, answer a question) and the platform's (ack, ask, outcome)
have one shape: the flag id from the path, the request's session and the feed poke go to
one `flags.service` transition, and the answer is the flag as it is now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.principal import Principal
from app.db import SessionDep
from app.errors import problem_responses
from app.feeds.dependencies import Poke, PokeDep
from app.flags.schemas import FlagOut

# The response model and problems of every route that changes one flag (beyond the
# 401, 403 and 422 its router declares for every route).
FLAG_CHANGE_ROUTE: dict[str, Any] = {
    "response_model": FlagOut,
    "responses": problem_responses(404, 409),
}


@dataclass(frozen=True)
class FlagChange:
    """The flag a route changes, with the session and poke its transition needs."""

    flag_id: uuid.UUID
    session: AsyncSession
    poke: Poke

    def by(self, principal: Principal) -> dict[str, Any]:
        """The keyword arguments every `flags.service` transition takes, for this caller."""
        return {
            "session": self.session,
            "principal": principal,
            "flag_id": self.flag_id,
            "poke": self.poke,
        }


async def flag_change(flag_id: uuid.UUID, session: SessionDep, poke: PokeDep) -> FlagChange:
    """The flag in the route's path, to be changed in the request's transaction."""
    return FlagChange(flag_id=flag_id, session=session, poke=poke)


FlagChangeDep = Annotated[FlagChange, Depends(flag_change)]
