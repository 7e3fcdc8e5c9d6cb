"""Response models of the signing keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class Jwk(BaseModel):
    """One public key (RFC 7517): an EC P-256 key that signs with ES256."""

    kty: Literal["EC"]
    crv: str
    x: str
    y: str
    kid: str
    use: Literal["sig"]
    alg: str


class Jwks(BaseModel):
    """Every key that may have signed a live token, a checkpoint or a published report."""

    keys: list[Jwk]


class HistoricJwk(Jwk):
    """A key that signed at some time; `forgotten` keys verify no token any more."""

    status: Literal["live", "forgotten"]


class KeyHistory(BaseModel):
    """Every key that ever signed a checkpoint or an archive record, forgotten ones too."""

    keys: list[HistoricJwk]
