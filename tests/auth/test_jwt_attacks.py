"""RFC 8725 attacks on access tokens: every forged or malformed token is a 401 problem.

Forged tokens are built by hand from a legitimately issued operator token: its header and
claims are decoded, changed, and re-encoded as base64url JSON segments, then signed (or
not) as each attack needs. A positive control signs with the same helper and our real key
and must get 200, so a 401 below means the verifier rejected the attack, not the helper.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyECKey

from app.auth.keys import public_jwk, thumbprint
from app.config import Settings
from app.main import create_app
from tests.conftest import (
    ROOT,
    Credentials,
    PgServer,
    World,
    assert_problem,
    create_test_database,
    drop_test_database,
)

ROUTE = "/v1/admin/organizations"


# --- one app for the whole module ----------------------------------------------------------
# The attacks only read, so they share one database and app; a fresh one per case made this
# module ten times slower. These override the per-test fixtures of tests/conftest.py.


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, keys_dir: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("attacks"),
        keys_dir=keys_dir,
        migrations_dir=ROOT / "alembic",
        database_url=None,
        revocation_refresh_seconds=3600,
    )


@pytest_asyncio.fixture(scope="module")
async def database_url(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    name = await create_test_database(pg_server, template_db)
    try:
        yield pg_server.url(name)
    finally:
        await drop_test_database(pg_server, name)


@pytest_asyncio.fixture(scope="module")
async def app(settings: Settings, database_url: str) -> AsyncIterator[Any]:
    application = create_app(settings, database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest_asyncio.fixture(scope="module")
async def client(app: Any, response_checker: Any) -> AsyncIterator[httpx.AsyncClient]:
    # Module-scoped for speed, and checked against the OpenAPI document like the shared one.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hooks = {"response": [response_checker.check_response]}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as c:
        yield c


@pytest_asyncio.fixture(scope="module")
async def world(app: Any, client: httpx.AsyncClient) -> World:
    return World(app, client)


# --- building tokens by hand -------------------------------------------------------------


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Inverse of b64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def segment(obj: Any) -> str:
    """One JWS segment: compact JSON, base64url-encoded."""
    return b64url(json.dumps(obj, separators=(",", ":")).encode())


def sign_es256(key: Key, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact JWS signed with an EC key (raw r||s signature, RFC 7518 §3.4)."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    return f"{signing_input}.{b64url(key.sign(signing_input.encode()))}"


def sign_hs256(secret: bytes, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact JWS MACed with HMAC-SHA256 under secret."""
    signing_input = f"{segment(header)}.{segment(claims)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    """A compact JWS with whatever signature segment is given (empty by default)."""
    return f"{segment(header)}.{segment(claims)}.{signature}"


def attacker_key() -> tuple[CryptographyECKey, str, dict[str, str]]:
    """A fresh P-256 key of the attacker's: (signing key, its thumbprint kid, its JWK)."""
    private = ec.generate_private_key(ec.SECP256R1())
    jwk = public_jwk(private.public_key())
    return CryptographyECKey(private, "ES256"), thumbprint(private.public_key()), jwk


@dataclass
class Legit:
    """A token our server issued, taken apart, plus what an attacker can see of our keys."""

    token: str
    header: dict[str, Any]
    claims: dict[str, Any]
    key: Key  # our real signing key (the server's, for claim-level attacks)
    kid: str
    jwk: dict[str, Any]  # the JWKS entry of kid, as served publicly
    creds: Credentials

    def signed(self, claims: dict[str, Any] | None = None, **header: Any) -> str:
        """Re-sign (with our real key) the token's claims/header, changed as given."""
        return sign_es256(self.key, {**self.header, **header}, self.claims | (claims or {}))

    def public_pem(self) -> bytes:
        """The PEM of our public key, rebuilt from the public JWKS."""
        numbers = ec.EllipticCurvePublicNumbers(
            int.from_bytes(unb64url(self.jwk["x"]), "big"),
            int.from_bytes(unb64url(self.jwk["y"]), "big"),
            ec.SECP256R1(),
        )
        return numbers.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def parts(self) -> list[str]:
        """The original token's three segments."""
        return self.token.split(".")


@pytest_asyncio.fixture(scope="module")
async def legit(app: Any, world: Any, client: httpx.AsyncClient) -> Legit:
    """A real operator token and the pieces needed to forge variants of it."""
    creds = await world.operator()
    token = await world.token(creds)
    header_b64, claims_b64, _ = token.split(".")
    header = json.loads(unb64url(header_b64))
    claims = json.loads(unb64url(claims_b64))
    ring = app.state.verifier.ring
    assert header["kid"] == ring.signing_kid
    jwks = (await client.get("/.well-known/jwks.json")).json()
    jwk = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return Legit(token, header, claims, ring.signing_key, ring.signing_kid, jwk, creds)


async def call(client: httpx.AsyncClient, authorization: str | None) -> httpx.Response:
    """GET the admin route with the given Authorization header value (or none)."""
    headers = {} if authorization is None else {"Authorization": authorization}
    return await client.get(ROUTE, headers=headers)


def assert_rejected(resp: httpx.Response, *, invalid_token: bool = False) -> dict[str, Any]:
    """401, RFC 9457 body, and a Bearer challenge (RFC 6750 §3), naming invalid_token if so."""
    body = assert_problem(resp, 401)
    challenge = resp.headers.get("www-authenticate", "")
    assert challenge.startswith("Bearer"), resp.headers
    if invalid_token:
        assert 'error="invalid_token"' in challenge, challenge
    return body


def now() -> int:
    return int(time.time())


# --- positive controls ---------------------------------------------------------------------


async def test_the_issued_token_is_accepted(legit, client):
    resp = await call(client, f"Bearer {legit.token}")
    assert resp.status_code == 200, resp.text


async def test_a_token_forged_with_our_real_key_and_valid_claims_is_accepted(legit, client):
    # The same helper the attacks below use; only the key and claims make them fail.
    fresh = {"jti": uuid.uuid4().hex, "iat": now(), "nbf": now(), "exp": now() + 600}
    token = legit.signed(fresh)
    assert token != legit.token
    resp = await call(client, f"Bearer {token}")
    assert resp.status_code == 200, resp.text


async def test_the_bearer_scheme_is_case_insensitive(legit, client):
    resp = await call(client, f"bearer {legit.token}")
    assert resp.status_code == 200, resp.text


async def test_a_lower_privileged_token_is_forbidden_not_unauthorized(world, client):
    # Control for the scope-escalation attack below: the agency token itself is valid.
    resp = await client.get(ROUTE, headers=await world.headers("agency"))
    assert_problem(resp, 403)


# --- algorithm attacks (RFC 8725 §2.1, §3.1) -------------------------------------------------

ALG_ATTACKS: list[Any] = [
    pytest.param(
        lambda t, alg=alg: unsigned({**t.header, "alg": alg}, t.claims),
        id=f"alg={alg}-empty-signature",
    )
    for alg in ("none", "None", "NONE", "nOnE")
] + [
    pytest.param(
        lambda t: unsigned({**t.header, "alg": "none"}, t.claims, t.parts[2]),
        id="alg=none-keeping-a-real-signature",
    ),
    pytest.param(
        lambda t: f"{segment({**t.header, 'alg': 'none'})}.{t.parts[1]}.",
        id="alg=none-original-payload",
    ),
    pytest.param(
        lambda t: sign_hs256(t.public_pem(), {**t.header, "alg": "HS256"}, t.claims),
        id="HS256-keyed-with-our-public-PEM",
    ),
    pytest.param(
        lambda t: sign_hs256(t.public_pem().strip(), {**t.header, "alg": "HS256"}, t.claims),
        id="HS256-keyed-with-our-public-PEM-stripped",
    ),
    pytest.param(
        lambda t: sign_hs256(json.dumps(t.jwk).encode(), {**t.header, "alg": "HS256"}, t.claims),
        id="HS256-keyed-with-our-JWK-JSON",
    ),
    pytest.param(
        lambda t: sign_hs256(
            json.dumps(t.jwk, separators=(",", ":"), sort_keys=True).encode(),
            {**t.header, "alg": "HS256"},
            t.claims,
        ),
        id="HS256-keyed-with-our-compact-JWK-JSON",
    ),
    pytest.param(
        lambda t: sign_hs256(b"", {**t.header, "alg": "HS256"}, t.claims),
        id="HS256-empty-secret",
    ),
    pytest.param(
        lambda t: sign_es256(t.key, {**t.header, "alg": "ES384"}, t.claims),
        id="alg=ES384-label-on-a-real-ES256-signature",
    ),
    pytest.param(
        lambda t: sign_es256(t.key, {**t.header, "alg": "RS256"}, t.claims),
        id="alg=RS256-label-on-a-real-ES256-signature",
    ),
    pytest.param(
        lambda t: sign_es256(t.key, {k: v for k, v in t.header.items() if k != "alg"}, t.claims),
        id="no-alg-header",
    ),
]


@pytest.mark.parametrize("forge", ALG_ATTACKS)
async def test_algorithm_confusion_is_rejected(legit, client, forge: Callable[[Legit], str]):
    assert_rejected(await call(client, f"Bearer {forge(legit)}"), invalid_token=True)


# --- claims signed with our real key, but not acceptable (RFC 8725 §3.8-3.10) --------------


def drop(*names: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda c: {k: v for k, v in c.items() if k not in names}


def put(**values: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Set claims; callables are called with the current time."""
    return lambda c: c | {k: v(now()) if callable(v) else v for k, v in values.items()}


CLAIM_ATTACKS: list[Any] = [
    pytest.param(
        put(iat=lambda n: n - 7200, nbf=lambda n: n - 7200, exp=lambda n: n - 3600),
        id="expired-an-hour-ago",
    ),
    pytest.param(put(exp=lambda n: n - 2), id="expired-seconds-ago"),
    pytest.param(drop("exp"), id="missing-exp"),
    pytest.param(put(exp="tomorrow"), id="exp-not-a-number"),
    pytest.param(put(exp=None), id="exp-null"),
    pytest.param(drop("iat"), id="missing-iat"),
    pytest.param(put(iat="yesterday"), id="iat-not-a-number"),
    pytest.param(drop("sub"), id="missing-sub"),
    pytest.param(put(sub="admin"), id="sub-not-a-client-id"),
    pytest.param(put(sub=12345), id="sub-not-a-string"),
    pytest.param(put(nbf=lambda n: n + 600), id="nbf-in-the-future"),
    pytest.param(put(aud="some-other-api"), id="wrong-aud"),
    pytest.param(put(aud=["some-other-api", "another-api"]), id="wrong-aud-list"),
    pytest.param(put(aud="FLAGBRIDGE-API"), id="aud-differs-in-case"),
    pytest.param(put(aud=""), id="empty-aud"),
    pytest.param(drop("aud"), id="missing-aud"),
    pytest.param(put(iss="https://evil.example"), id="wrong-iss"),
    pytest.param(put(iss="https://flagbridge.local/"), id="iss-lookalike-trailing-slash"),
    pytest.param(drop("iss"), id="missing-iss"),
    pytest.param(drop("jti"), id="missing-jti"),
    pytest.param(drop("org"), id="missing-org"),
    pytest.param(put(org="not-a-uuid"), id="org-not-a-uuid"),
    pytest.param(drop("org_kind"), id="missing-org_kind"),
    pytest.param(put(org_kind="superuser"), id="unknown-org_kind"),
    pytest.param(put(scope=["admin"]), id="scope-not-a-string"),
]


@pytest.mark.parametrize("mutate", CLAIM_ATTACKS)
async def test_unacceptable_claims_are_rejected_even_with_a_valid_signature(
    legit, client, mutate: Callable[[dict[str, Any]], dict[str, Any]]
):
    claims = mutate(dict(legit.claims))
    token = sign_es256(legit.key, legit.header, claims)
    assert_rejected(await call(client, f"Bearer {token}"), invalid_token=True)


# --- tampering with a real token, keeping its signature ------------------------------------


def flip(signature: str, index: int) -> str:
    raw = bytearray(unb64url(signature))
    raw[index] ^= 0x01
    return b64url(bytes(raw))


def edited(**claims: Any) -> Callable[[Legit], str]:
    """The real header and signature, over claims that were changed afterwards."""
    return lambda t: f"{t.parts[0]}.{segment(t.claims | claims)}.{t.parts[2]}"


TAMPERING: list[Any] = [
    pytest.param(lambda t: f"{t.parts[0]}.{t.parts[1]}.{flip(t.parts[2], 0)}", id="flip-first"),
    pytest.param(lambda t: f"{t.parts[0]}.{t.parts[1]}.{flip(t.parts[2], 40)}", id="flip-mid"),
    pytest.param(lambda t: f"{t.parts[0]}.{t.parts[1]}.{flip(t.parts[2], -1)}", id="flip-last"),
    pytest.param(
        lambda t: f"{t.parts[0]}.{t.parts[1]}.{b64url(unb64url(t.parts[2])[:-1])}",
        id="signature-truncated",
    ),
    pytest.param(
        lambda t: f"{t.parts[0]}.{t.parts[1]}.{b64url(unb64url(t.parts[2]) + b'x')}",
        id="signature-extended",
    ),
    pytest.param(lambda t: f"{t.parts[0]}.{t.parts[1]}.", id="signature-removed"),
    pytest.param(lambda t: f"{t.parts[0]}.{t.parts[1]}.{'A' * 86}", id="signature-zeros"),
    pytest.param(
        edited(scope="admin flags:submit flags:read feed:read audit:read stats:read"),
        id="scope-widened",
    ),
    pytest.param(edited(org=str(uuid.uuid4())), id="org-changed"),
    pytest.param(edited(sub=str(uuid.uuid4())), id="sub-changed"),
    pytest.param(edited(exp=4102444800), id="exp-extended"),
    pytest.param(
        lambda t: f"{segment({**t.header, 'typ': 'JWT'})}.{t.parts[1]}.{t.parts[2]}",
        id="header-edited",
    ),
]


@pytest.mark.parametrize("forge", TAMPERING)
async def test_tampered_tokens_are_rejected(legit, client, forge: Callable[[Legit], str]):
    token = forge(legit)
    assert token != legit.token
    assert_rejected(await call(client, f"Bearer {token}"), invalid_token=True)


async def test_a_lower_privileged_token_edited_to_admin_is_rejected(world, client):
    token = (await world.headers("agency"))["Authorization"].removeprefix("Bearer ")
    header, payload, signature = token.split(".")
    claims = json.loads(unb64url(payload))
    assert "admin" not in claims["scope"].split()
    escalated = claims | {"scope": "admin", "org_kind": "operator"}
    resp = await call(client, f"Bearer {header}.{segment(escalated)}.{signature}")
    assert_rejected(resp, invalid_token=True)


# --- key selection: kid and embedded keys (RFC 8725 §3.10, RFC 7515 §4.1.2-4.1.6) -----------

KEY_ATTACKS: list[Any] = [
    pytest.param(lambda t: t.signed(kid=thumbprint_like()), id="unknown-kid"),
    pytest.param(
        lambda t: sign_es256(t.key, {k: v for k, v in t.header.items() if k != "kid"}, t.claims),
        id="missing-kid",
    ),
    pytest.param(lambda t: t.signed(kid=None), id="kid-null"),
    pytest.param(lambda t: t.signed(kid=12345), id="kid-number"),
    pytest.param(lambda t: t.signed(kid=[t.kid]), id="kid-list-holding-our-kid"),
    pytest.param(lambda t: t.signed(kid={"kid": t.kid}), id="kid-object"),
    pytest.param(lambda t: t.signed(kid=""), id="kid-empty"),
    pytest.param(lambda t: t.signed(kid="../../etc/passwd"), id="kid-path-traversal"),
    pytest.param(lambda t: t.signed(kid="/dev/null"), id="kid-absolute-path"),
    pytest.param(lambda t: t.signed(kid=f"../keys/{t.kid}"), id="kid-relative-path-to-our-key"),
    pytest.param(lambda t: t.signed(kid=f"{t.kid}.pem"), id="kid-our-file-name"),
    pytest.param(lambda t: t.signed(kid=f"{t.kid}\x00"), id="kid-nul-suffix"),
    pytest.param(lambda t: t.signed(kid="' OR '1'='1"), id="kid-sql-injection"),
    pytest.param(lambda t: t.signed(kid=f"{t.kid}' OR 1=1 --"), id="kid-sql-suffix"),
    pytest.param(lambda t: t.signed(kid="active"), id="kid-names-the-active-file"),
    pytest.param(lambda t: t.signed(kid=t.kid.upper()), id="kid-differs-in-case"),
]


def thumbprint_like() -> str:
    return b64url(hashlib.sha256(uuid.uuid4().bytes).digest())


@pytest.mark.parametrize("forge", KEY_ATTACKS)
async def test_only_our_kids_select_a_key(legit, client, forge: Callable[[Legit], str]):
    assert_rejected(await call(client, f"Bearer {forge(legit)}"), invalid_token=True)


def _signed_by_attacker(kid_from: str, **extra_header: Any) -> Callable[[Legit], str]:
    """A token signed by an attacker's key, its kid ours or theirs, plus header params."""

    def forge(t: Legit) -> str:
        key, attacker_kid, jwk = attacker_key()
        kid = t.kid if kid_from == "ours" else attacker_kid
        header = {**t.header, "kid": kid}
        for name, value in extra_header.items():
            header[name] = {**jwk, "kid": kid} if value == "JWK" else value
        return sign_es256(key, header, t.claims)

    return forge


ATTACKER_KEYS: list[Any] = [
    pytest.param(_signed_by_attacker("ours"), id="attacker-key-reusing-our-kid"),
    pytest.param(_signed_by_attacker("theirs"), id="attacker-key-with-its-own-kid"),
    pytest.param(_signed_by_attacker("theirs", jwk="JWK"), id="embedded-jwk-attacker-kid"),
    pytest.param(_signed_by_attacker("ours", jwk="JWK"), id="embedded-jwk-our-kid"),
    pytest.param(
        _signed_by_attacker("theirs", jku="https://attacker.example/jwks.json"),
        id="jku-attacker-kid",
    ),
    pytest.param(
        _signed_by_attacker("ours", jku="https://attacker.example/jwks.json"), id="jku-our-kid"
    ),
    pytest.param(
        _signed_by_attacker("theirs", x5u="https://attacker.example/cert.pem"),
        id="x5u-attacker-kid",
    ),
    pytest.param(
        _signed_by_attacker("theirs", jku="http://127.0.0.1/.well-known/jwks.json"),
        id="jku-pointing-at-localhost",
    ),
]


@pytest.mark.parametrize("forge", ATTACKER_KEYS)
async def test_keys_come_only_from_our_ring(legit, client, forge: Callable[[Legit], str]):
    assert_rejected(await call(client, f"Bearer {forge(legit)}"), invalid_token=True)


# --- malformed tokens and Authorization headers ---------------------------------------------

MALFORMED: list[Any] = [
    pytest.param(lambda t: None, id="no-authorization-header"),
    pytest.param(lambda t: "", id="empty-authorization-header"),
    pytest.param(lambda t: "Bearer", id="bearer-without-token"),
    pytest.param(lambda t: "Bearer    ", id="bearer-with-only-spaces"),
    pytest.param(lambda t: t.token, id="token-without-scheme"),
    pytest.param(
        lambda t: (
            "Basic "
            + base64.b64encode(f"{t.creds.client_id}:{t.creds.client_secret}".encode()).decode()
        ),
        id="basic-with-valid-client-credentials",
    ),
    pytest.param(lambda t: f"Basic {t.token}", id="basic-scheme-with-valid-token"),
    pytest.param(lambda t: f"Token {t.token}", id="unknown-scheme-with-valid-token"),
    pytest.param(lambda t: "Bearer garbage", id="garbage"),
    pytest.param(lambda t: "Bearer a.b.c", id="three-garbage-segments"),
    pytest.param(lambda t: "Bearer ..", id="three-empty-segments"),
    pytest.param(lambda t: "Bearer e30.e30.", id="empty-json-objects"),
    pytest.param(lambda t: "Bearer !!!.???.***", id="not-base64url"),
    pytest.param(lambda t: f"Bearer {t.parts[0]}.{t.parts[1]}", id="two-segments"),
    pytest.param(lambda t: f"Bearer {t.parts[1]}.{t.parts[2]}", id="two-segments-no-header"),
    pytest.param(lambda t: f"Bearer {t.token}.{t.parts[2]}", id="four-segments"),
    pytest.param(
        lambda t: f"Bearer {segment({'alg': 'dir', 'enc': 'A256GCM'})}..AAAA.{t.parts[1]}.AAAA",
        id="jwe-shaped-five-segments",
    ),
    pytest.param(
        lambda t: f"Bearer {b64url(b'[1,2,3]')}.{t.parts[1]}.{t.parts[2]}", id="header-not-object"
    ),
    pytest.param(
        lambda t: f"Bearer {b64url(b'{not json')}.{t.parts[1]}.{t.parts[2]}",
        id="header-not-json",
    ),
    pytest.param(
        lambda t: "Bearer " + _sign_raw(t, t.header, b'["not", "an", "object"]'),
        id="signed-payload-json-array",
    ),
    pytest.param(lambda t: "Bearer " + _sign_raw(t, t.header, b"not json"), id="signed-garbage"),
    pytest.param(lambda t: f"Bearer {t.token} {t.token}", id="two-tokens"),
    pytest.param(lambda t: "Bearer " + "A" * 100_000, id="over-long-garbage"),
    pytest.param(
        lambda t: "Bearer " + t.signed({"padding": "x" * 5000}), id="over-long-but-validly-signed"
    ),
]


def _sign_raw(t: Legit, header: dict[str, Any], payload: bytes) -> str:
    signing_input = f"{segment(header)}.{b64url(payload)}"
    return f"{signing_input}.{b64url(t.key.sign(signing_input.encode()))}"


@pytest.mark.parametrize("authorization", MALFORMED)
async def test_malformed_credentials_are_rejected(
    legit, client, authorization: Callable[[Legit], str | None]
):
    resp = await call(client, authorization(legit))
    body = assert_rejected(resp)
    assert legit.token not in resp.text
    assert "Traceback" not in body["detail"]


# --- header checks the verifier does not make yet (reported, see the reasons) ---------------


@pytest.mark.parametrize("typ", ["JWT", None])
async def test_a_token_not_typed_as_an_access_token_is_rejected(legit, client, typ):
    header = {**legit.header, "typ": typ} if typ else {"alg": "ES256", "kid": legit.kid}
    token = sign_es256(legit.key, header, legit.claims | {"jti": uuid.uuid4().hex})
    assert_rejected(await call(client, f"Bearer {token}"), invalid_token=True)


async def test_a_token_with_an_unknown_critical_header_is_rejected(legit, client):
    token = legit.signed({"jti": uuid.uuid4().hex}, crit=["x-must-understand"])
    token_header = json.loads(unb64url(token.split(".")[0]))
    assert token_header["crit"] == ["x-must-understand"]
    assert_rejected(await call(client, f"Bearer {token}"), invalid_token=True)


# --- claims checked against the issuing policy ----------------------------------------------
# Signed with our own key, so only the policy (lifetime, issue time, not-before) refuses them.
# The cases give times as offsets from now, taken when the test runs.


def at(offsets: dict[str, int]) -> dict[str, int]:
    """Claims with times relative to now."""
    return {name: now() + offset for name, offset in offsets.items()}


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("ten years", {"iat": 0, "nbf": 0, "exp": 10 * 365 * 86400}),
        ("a second past lifetime and skew", {"iat": 0, "exp": 3600 + 60 + 1}),
        ("issued an hour from now", {"iat": 3600, "nbf": 0, "exp": 3700}),
        ("not valid for an hour", {"iat": 0, "nbf": 3600, "exp": 3600}),
    ],
)
async def test_a_token_signed_by_us_outside_the_issuing_policy_is_rejected(
    legit, client, case, claims
):
    token = legit.signed({"jti": uuid.uuid4().hex, **at(claims)})
    assert_rejected(await call(client, f"Bearer {token}"), invalid_token=True)


@pytest.mark.parametrize(
    ("case", "claims"),
    [
        ("the full lifetime", {"iat": 0, "nbf": 0, "exp": 3600}),
        ("issued 30 s ahead (clock skew)", {"iat": 30, "nbf": 30, "exp": 600}),
        ("no nbf", {"iat": 0, "exp": 600}),
    ],
)
async def test_a_token_within_the_issuing_policy_is_accepted(legit, client, case, claims):
    base = {k: v for k, v in legit.claims.items() if k != "nbf"}
    token = sign_es256(legit.key, legit.header, base | {"jti": uuid.uuid4().hex, **at(claims)})
    resp = await call(client, f"Bearer {token}")
    assert resp.status_code == 200, (case, resp.text)
