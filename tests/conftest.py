"""Test harness: one real PostgreSQL per session, a fresh database per test.

With DATABASE_URL unset, the embedded server is started in var/test/pg, or in
var/test-gw0/pg for pytest-xdist's worker gw0 and so on (the same mechanism as the
service). Migrations run once into a template database; each test gets its own database
copied from it, so tests are isolated even when they commit, run concurrent transactions,
or use LISTEN/NOTIFY.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
from sqlalchemy.engine import make_url

from app.config import Settings
from app.embedded import sqlalchemy_url, start_embedded, to_asyncpg_url
from app.main import create_app
from app.migrations import upgrade_to_head
from tests.openapi_check import ResponseChecker

ROOT = Path(__file__).resolve().parent.parent
# `make test` runs the suite in pytest-xdist workers (gw0, gw1, ...); whatever a worker
# names under var/ carries its name. Each has its own embedded server: the feed and audit
# sealing wait for transactions older than the server-wide xmin horizon, so one worker's
# open transactions would hold back what the other's tests see.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEMPLATE = "fbtest_template"
# Every `flagbridge serve` a test starts inherits this: its metrics listener takes a port
# the system picks, as the default 127.0.0.1:9108 is one per machine and workers (and other
# checkouts' suites) serve at the same time.
os.environ.setdefault("FLAGBRIDGE_METRICS_BIND", "127.0.0.1:0")
_counter = itertools.count()


@dataclass
class PgServer:
    """How to reach the test server: an admin DSN and a URL builder per database."""

    base_url: str  # postgresql+asyncpg://.../<db>

    def url(self, database: str) -> str:
        """SQLAlchemy URL of one database on the server."""
        return make_url(self.base_url).set(database=database).render_as_string(hide_password=False)

    def dsn(self, database: str) -> str:
        """asyncpg DSN of one database on the server."""
        return self.url(database).replace("postgresql+asyncpg://", "postgresql://", 1)


# A random UUID in a parameter (a path to a resource that does not exist) would name the
# test differently in each pytest-xdist worker, and xdist refuses workers that collected
# different tests; the id shows where the UUID was instead.
_UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Test ids without random UUIDs, so every worker collects the same names."""
    if isinstance(val, str) and _UUID.search(val):
        return _UUID.sub("<uuid>", val)
    return None


# The longest tests (tens of seconds each: subprocesses, served apps, a whole demo history)
# start first, so xdist's last minutes are not one worker finishing one of them alone.
SLOW_FIRST = (
    "tests/retention/test_retention.py",
    "tests/fuzz/test_schemathesis.py",
    "tests/test_readme_examples.py",
    "tests/hardening/test_faults.py",
    "tests/cli/",
    "tests/replica/",
    "tests/browser/",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Move the slow tests to the front, keeping the order within each part."""
    rank = {prefix: i for i, prefix in enumerate(SLOW_FIRST)}

    def key(item: pytest.Item) -> int:
        path = item.nodeid.split("::")[0]
        return next((r for prefix, r in rank.items() if path.startswith(prefix)), len(rank))

    items.sort(key=key)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """The session's PostgreSQL: DATABASE_URL's server, or the worker's embedded one."""
    if os.environ.get("DATABASE_URL"):
        if WORKER != "main":
            pytest.fail("DATABASE_URL is one server for every worker: make test TEST_WORKERS=0")
        return PgServer(to_asyncpg_url(os.environ["DATABASE_URL"]))
    server = start_embedded(ROOT / "var" / ("test" if WORKER == "main" else f"test-{WORKER}"))
    socket_dir = str(server.get_postmaster_info().socket_dir)
    url = sqlalchemy_url(socket_dir, "postgres")

    async def tune() -> None:
        # Durability buys nothing in a throw-away test cluster; speed does.
        conn = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
        try:
            await conn.execute("ALTER SYSTEM SET fsync = off")
            await conn.execute("ALTER SYSTEM SET synchronous_commit = off")
            await conn.execute("ALTER SYSTEM SET full_page_writes = off")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    asyncio.run(tune())
    return PgServer(url)


@pytest.fixture(scope="session")
def template_db(pg_server: PgServer) -> str:
    """A migrated template database, rebuilt once per test session."""

    async def rebuild() -> None:
        conn = await asyncpg.connect(pg_server.dsn("postgres"))
        try:
            await conn.execute(f"DROP DATABASE IF EXISTS {_quote(TEMPLATE)} WITH (FORCE)")
            await conn.execute(f"CREATE DATABASE {_quote(TEMPLATE)}")
        finally:
            await conn.close()

    asyncio.run(rebuild())
    upgrade_to_head(ROOT / "alembic", pg_server.url(TEMPLATE))
    return TEMPLATE


async def create_test_database(pg_server: PgServer, template: str) -> str:
    """Copy the template into a new database and return its name."""
    name = f"fbtest_{os.getpid()}_{next(_counter)}"
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
        await conn.execute(
            f"CREATE DATABASE {_quote(name)} TEMPLATE {_quote(template)} STRATEGY FILE_COPY"
        )
    finally:
        await conn.close()
    return name


async def drop_test_database(pg_server: PgServer, name: str) -> None:
    """Drop a test database, disconnecting whoever is still on it."""
    conn = await asyncpg.connect(pg_server.dsn("postgres"))
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {_quote(name)} WITH (FORCE)")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One key folder for the session (key generation is not what we test per test)."""
    return tmp_path_factory.mktemp("keys")


@pytest.fixture
def settings(tmp_path: Path, keys_dir: Path) -> Settings:
    """Settings of a test app: its own data folder, the session's keys."""
    return Settings(
        env="test",
        data_dir=tmp_path,
        keys_dir=keys_dir,
        migrations_dir=ROOT / "alembic",
        database_url=None,
        revocation_refresh_seconds=3600,
        # Background jobs stay out of the way; tests run them explicitly when they need to.
        audit_seal_seconds=3600,
        hold_sweep_seconds=3600,
        max_body_bytes=64 * 1024,
        max_batch_body_bytes=256 * 1024,
        # Tests make many requests in little time; tests/ratelimit runs the real defaults.
        rate_writes_per_minute=1_000_000,
        rate_reads_per_minute=1_000_000,
        rate_token_per_address_per_minute=1_000_000,
        rate_token_free_failures=10_000,
        rate_long_poll_waiters=1000,
        # Thousands of fixture secrets: argon2's floor (tests/hardening holds the real one).
        argon2_profile="test",
    )


@pytest_asyncio.fixture
async def database_url(pg_server: PgServer, template_db: str) -> AsyncIterator[str]:
    """A fresh migrated database for this test."""
    name = await create_test_database(pg_server, template_db)
    try:
        yield pg_server.url(name)
    finally:
        await drop_test_database(pg_server, name)


@pytest.fixture(scope="session")
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document, generated once per session (routes do not depend on settings)."""
    return dict(create_app().openapi())


@pytest_asyncio.fixture
async def app(
    settings: Settings, database_url: str, openapi_document: dict[str, Any]
) -> AsyncIterator[Any]:
    """The application with its lifespan running against this test's database."""
    application = create_app(settings, database_url=database_url)
    # Its first request would generate the document again (the middleware's route table
    # reads it): a fifth of a second of CPU in every test. Nothing writes to it.
    application.openapi_schema = openapi_document
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
def response_checker(openapi_document: dict[str, Any]) -> ResponseChecker:
    """The OpenAPI document's response validators, compiled once per session."""
    return ResponseChecker(openapi_document)


@pytest_asyncio.fixture
async def client(app: Any, response_checker: ResponseChecker) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client talking to the app in-process, checking every response it receives."""
    # A response the OpenAPI document does not describe (status, content type or body)
    # fails the test that received it: the published contract is tested by every scenario.
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    hooks = {"response": [response_checker.check_response]}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", event_hooks=hooks
    ) as c:
        yield c


@dataclass
class Credentials:
    """An organisation and one API client of it."""

    org_id: str
    client_id: str
    client_secret: str
    kind: str
    scopes: list[str]


class World:
    """Builds organisations and clients the way an operator would, and fetches tokens."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app = app
        self.client = client
        self._operator: Credentials | None = None
        self._operator_token: str | None = None

    async def operator(self) -> Credentials:
        """The bootstrap operator (made directly, as `flagbridge org/client create` does)."""
        if self._operator is None:
            from app.orgs import service
            from app.orgs.schemas import ClientCreate, OrganizationCreate

            async with self.app.state.sessionmaker() as session, session.begin():
                org = await service.create_organization(
                    session=session,
                    actor=None,
                    actor_label="test",
                    data=OrganizationCreate(kind="operator", name=f"ops-{uuid.uuid4().hex[:8]}"),
                )
                cl, secret = await service.create_client(
                    session=session,
                    actor=None,
                    actor_label="test",
                    data=ClientCreate(organization_id=org.id, name="ops"),
                )
            self._operator = Credentials(str(org.id), str(cl.id), secret, "operator", cl.scopes)
        return self._operator

    async def admin_headers(self) -> dict[str, str]:
        """Authorization header of the operator."""
        if self._operator_token is None:
            self._operator_token = await self.token(await self.operator())
        return {"Authorization": f"Bearer {self._operator_token}"}

    async def org(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Create an organisation through the admin API."""
        body = {"kind": kind, "name": fields.pop("name", f"{kind}-{uuid.uuid4().hex[:10]}")}
        if kind == "agency":
            body["country"] = fields.pop("country", "ID")
        if kind == "platform":
            body["platform"] = fields.pop("platform", f"p-{uuid.uuid4().hex[:8]}")
        body.update(fields)
        resp = await self.client.post(
            "/v1/admin/organizations", json=body, headers=await self.admin_headers()
        )
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def credentials(
        self, kind: str, *, scopes: list[str] | None = None, **org: Any
    ) -> Credentials:
        """A new organisation of kind with one client."""
        o = await self.org(kind, **org)
        body: dict[str, Any] = {"organization_id": o["id"], "name": "test client"}
        if scopes is not None:
            body["scopes"] = scopes
        resp = await self.client.post(
            "/v1/admin/clients", json=body, headers=await self.admin_headers()
        )
        assert resp.status_code == 201, resp.text
        data = resp.json()
        return Credentials(o["id"], data["client_id"], data["client_secret"], kind, data["scopes"])

    async def token(self, creds: Credentials, scope: str | None = None) -> str:
        """An access token for the credentials."""
        form = {
            "grant_type": "client_credentials",
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
        }
        if scope:
            form["scope"] = scope
        resp = await self.client.post("/oauth/token", data=form)
        assert resp.status_code == 200, resp.text
        return str(resp.json()["access_token"])

    async def headers(self, kind: str, **kw: Any) -> dict[str, str]:
        """Authorization header of a fresh client of a fresh organisation of kind."""
        return {"Authorization": f"Bearer {await self.token(await self.credentials(kind, **kw))}"}


@pytest_asyncio.fixture
async def world(app: Any, client: httpx.AsyncClient) -> World:
    """The test's organisation and token factory."""
    return World(app, client)


def assert_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem response with the given status; return its body."""
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json"), resp.headers
    body = resp.json()
    for key in ("type", "title", "status", "detail"):
        assert key in body, body
    assert body["status"] == status
    assert "Traceback" not in resp.text
    return dict(body)


@dataclass
class Party:
    """An organisation ready to call the API: its credentials and auth header."""

    creds: Credentials
    headers: dict[str, str]

    @property
    def org_id(self) -> str:
        """The organisation's id."""
        return self.creds.org_id


async def party(world: World, kind: str, **org: Any) -> Party:
    """A new organisation of kind with a token."""
    creds = await world.credentials(kind, **org)
    return Party(creds, {"Authorization": f"Bearer {await world.token(creds)}"})


def flag_body(platform: str, handle: str | None = None, **overrides: Any) -> dict[str, Any]:
    """A valid flag submission (unique handle unless given)."""
    body: dict[str, Any] = {
        "platform": platform,
        # 15 characters: a valid handle on every built-in profile (Twitter's is the shortest).
        "account": {"handle": handle or f"acct_{uuid.uuid4().hex[:10]}"},
        "category": "propaganda",
        "legal_basis": "Law No. 5/2018 on the Eradication of Criminal Acts of Terrorism, Art. 13A",
        "summary": "Account distributes recruitment videos for a proscribed organisation.",
        "evidence": [{"url": "https://evidence.example.gov/case/1/capture.png"}],
    }
    body.update(overrides)
    return body
