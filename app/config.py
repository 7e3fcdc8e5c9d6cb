"""Settings read from the environment; one object, validated once at start-up."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_PACKAGE_ROOT = Path(__file__).resolve().parent.parent


def _default_migrations_dir() -> Path:
    """The repository's alembic/ folder when running from a checkout, else ./alembic."""
    candidate = _PACKAGE_ROOT / "alembic"
    return candidate if (candidate / "env.py").exists() else Path("alembic").resolve()


def _default_data_dir() -> Path:
    """The checkout's var/ when the package is an editable checkout (so the CLI and the
    server find the same data from any working directory), else ./var."""
    if (_PACKAGE_ROOT / "pyproject.toml").exists() and (_PACKAGE_ROOT / "app").is_dir():
        return _PACKAGE_ROOT / "var"
    return Path("var").resolve()


class Settings(BaseSettings):
    """Every knob of the service. Environment variables are FLAGBRIDGE_<NAME> unless noted."""

    model_config = SettingsConfigDict(env_prefix="FLAGBRIDGE_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "FLAGBRIDGE_DATABASE_URL"),
        description="PostgreSQL URL; unset means the embedded server in data_dir/pg.",
    )
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="FLAGBRIDGE_DATA_DIR always wins; else the checkout's var/ (editable "
        "install), else ./var.",
    )
    migrations_dir: Path = Field(default_factory=_default_migrations_dir)

    # Tokens
    issuer: str = "https://flagbridge.local"
    audience: str = "flagbridge-api"
    token_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    keys_dir: Path | None = Field(
        default=None, description="Folder of ES256 private keys (*.pem); default data_dir/keys."
    )
    signing_key_pem: str | None = Field(
        default=None, description="PEM of the active ES256 private key, instead of keys_dir."
    )
    verification_keys_pem: str | None = Field(
        default=None,
        description="Extra PEM public keys still accepted for verification (rotation).",
    )

    # HTTP
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    max_batch_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    log_level: str = "INFO"
    db_pool_size: int = Field(default=10, ge=1, le=200)
    db_max_overflow: int = Field(default=10, ge=0, le=200)
    submit_group_in_flight: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Group-commit statements for single submissions in flight per process.",
    )
    revocation_refresh_seconds: float = Field(default=30.0, gt=0)
    feed_retention_days: int = Field(
        default=90, ge=1, le=3650, description="Feed cursors older than this get 410."
    )
    idempotency_retention_hours: int = Field(
        default=24, ge=24, le=24 * 30, description="How long Idempotency-Keys are kept."
    )
    hold_sweep_seconds: float = Field(
        default=15.0, gt=0, description="How often expired holds are released."
    )
    max_active_holds: int = Field(
        default=100,
        ge=1,
        le=100_000,
        description="Active holds an agency may have at once; one more is a 409.",
    )
    max_hold_renewals: int = Field(
        default=3,
        ge=0,
        le=100,
        description="Times one hold may be renewed, so that no hold lasts forever.",
    )
    audit_seal_seconds: float = Field(
        default=5.0, gt=0, description="How often committed audit entries are chained."
    )
    audit_checkpoint_seconds: float = Field(
        default=60.0, gt=0, description="Minimum time between signed audit checkpoints."
    )
    key_reload_seconds: float = Field(
        default=60.0, gt=0, description="How often running servers re-read the key folder."
    )
    stats_fold_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the statistics rollups' per-transaction rows are folded.",
    )

    # Read replica (app/db.py::ReadReplica)
    read_database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL of a streaming replica for statistics, the transparency "
        "page and the audit listing; unset means they read the primary.",
    )
    read_replica_lag_refresh_seconds: float = Field(
        default=10.0, gt=0, description="How often the replica's lag is measured for /metrics."
    )

    # Webhooks (app/webhooks)
    webhook_allow_private: bool = Field(
        default=False,
        description="Allow webhook URLs on loopback, link-local and private networks (tests).",
    )
    webhook_secret_overlap_seconds: int = Field(
        default=86400, ge=0, le=7 * 86400, description="How long a replaced secret still signs."
    )
    webhook_timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    webhook_lease_seconds: float = Field(
        default=60.0, gt=0, description="A claimed delivery's lease; longer than the timeout."
    )
    webhook_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="The first retry's delay; each next one doubles."
    )
    webhook_retry_max_seconds: float = Field(
        default=4 * 3600.0, gt=0, description="The longest delay between two attempts."
    )
    webhook_retry_window_seconds: float = Field(
        default=86400.0, gt=0, description="An event failing this long disables its webhook."
    )
    webhook_poll_seconds: float = Field(
        default=1.0, gt=0, description="How often a delivery worker looks for due deliveries."
    )
    webhook_worker_in_serve: bool = Field(
        default=True, description="Run a delivery worker inside every `serve` process."
    )

    # Hardening (issue 11)
    feed_max_waiters_per_client: int = Field(
        default=8,
        ge=1,
        le=1000,
        description="Long-polls (`wait` > 0) one client may have waiting per process; more is 429.",
    )
    metrics_bind: str = Field(
        default="127.0.0.1:9108",
        description="host:port of the private Prometheus listener of `flagbridge serve`; "
        "empty or `off` for none. The API's own port answers 404 for /metrics.",
    )
    retention_days: int | None = Field(
        default=None,
        ge=1,
        le=36500,
        description="Remove personal data from flags closed or withdrawn longer ago than this "
        "(and delete feed events past feed_retention_days); unset: keep everything.",
    )
    retention_sweep_seconds: float = Field(
        default=3600.0, gt=0, description="How often the retention job runs when it is on."
    )

    # Published transparency reports (issue 12)
    transparency_period: Literal["half", "quarter", "year"] = Field(
        default="half",
        description="The periods public transparency reports cover: calendar half-years, "
        "quarters or years. Periods that would overlap a published report are never published.",
    )
    transparency_grace_days: int = Field(
        default=30,
        ge=0,
        le=366,
        description="Days after a period closes before its report is built and frozen "
        "(time for the platforms' late self-reports).",
    )
    # Contest and reconsideration of outcomes (issue 15)
    contest_window_days: int = Field(
        default=30,
        ge=1,
        le=3650,
        description="Days after a flag's outcome during which its agency may contest it "
        "(POST /v1/flags/{id}/contest).",
    )
    transparency_publish_seconds: float = Field(
        default=3600.0, gt=0, description="How often a server looks for reports due."
    )
    database_start_wait_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How long a starting server waits for an unreachable database.",
    )
    audit_full_verify_interval_seconds: float = Field(
        default=60.0,
        ge=0,
        description="Minimum time between one client's full audit verifications "
        "(`GET /v1/audit/verify?full=true`); sooner is 429.",
    )
    audit_full_verify_every_seconds: float = Field(
        default=86400.0,
        gt=0,
        description="How often the servers verify the whole audit chain in the background "
        "(one run across all processes and hosts; a mismatch is logged as an error).",
    )

    # Rate limits (app/ratelimit): budgets per client per minute, shared by every worker
    # and host through PostgreSQL; operators override them per organisation.
    rate_writes_per_minute: int = Field(
        default=600, ge=1, le=1_000_000, description="Writes (POST/PUT/PATCH/DELETE) per client."
    )
    rate_reads_per_minute: int = Field(
        default=1200, ge=1, le=1_000_000, description="Reads (GET) per client."
    )
    rate_long_poll_waiters: int = Field(
        default=8, ge=1, le=1000, description="Long-polls one client may have waiting, fleet-wide."
    )
    rate_token_per_address_per_minute: int = Field(
        default=60, ge=1, le=1_000_000, description="Token requests per source address."
    )
    rate_token_free_failures: int = Field(
        default=10,
        ge=1,
        le=10_000,
        description="Failed token requests per client id before back-off.",
    )
    rate_token_failure_window_seconds: float = Field(
        default=60.0,
        gt=0,
        description="Quiet time after which a client id's failures are forgotten.",
    )
    rate_token_backoff_base_seconds: float = Field(
        default=1.0, gt=0, description="The first back-off; each further failure doubles it."
    )
    rate_token_backoff_max_seconds: float = Field(
        default=300.0, gt=0, description="The longest back-off of one client id."
    )
    rate_hash_concurrency: int = Field(
        default=2, ge=1, le=64, description="Secret hashes (argon2id) running at once per process."
    )
    rate_hash_queue: int = Field(
        default=16, ge=0, le=10_000, description="Secret hashes waiting per process; more is 429."
    )
    rate_flush_seconds: float = Field(
        default=0.05, gt=0, le=5, description="How often a process sends its counts to PostgreSQL."
    )
    rate_policy_refresh_seconds: float = Field(
        default=30.0, gt=0, description="How often a process re-reads per-organisation limits."
    )
    opentelemetry: bool = Field(
        default=False,
        description="Let FastAPI report spans, metrics and logs to the process's global "
        "OpenTelemetry providers (e.g. under `opentelemetry-instrument`). Off by default: "
        "FlagBridge's own telemetry is its metrics listener and JSON logs, and looking for "
        "those providers costs every request.",
    )
    gil_switch_interval_ms: float = Field(
        default=0.5,
        gt=0,
        le=100,
        description="How long a background thread (audit sealing, argon2) may keep "
        "Python's GIL while requests wait for it (app/kit/gil.py; Python's default is 5)",
    )
    argon2_profile: Literal["owasp", "test"] = Field(
        default="owasp",
        description="argon2id parameters of client secrets: OWASP's minimum, or argon2's "
        "smallest for test suites (refused unless FLAGBRIDGE_ENV=test).",
    )

    @model_validator(mode="after")
    def _refuse_test_hashing_outside_tests(self) -> Settings:
        """Cheap secret hashes are for throw-away test databases only."""
        if self.argon2_profile == "test" and self.env != "test":
            raise ValueError("FLAGBRIDGE_ARGON2_PROFILE=test needs FLAGBRIDGE_ENV=test")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        """Outside development the embedded database and generated keys are refused."""
        if self.webhook_lease_seconds <= self.webhook_timeout_seconds:
            # A lease shorter than a call would let a second worker send the same attempt.
            raise ValueError("FLAGBRIDGE_WEBHOOK_LEASE_SECONDS must exceed the timeout")
        if self.env == "production":
            if not self.database_url:
                raise ValueError("DATABASE_URL must be set when FLAGBRIDGE_ENV=production")
            if self.issuer == "https://flagbridge.local":
                raise ValueError("FLAGBRIDGE_ISSUER must be set when FLAGBRIDGE_ENV=production")
        return self

    @property
    def resolved_keys_dir(self) -> Path:
        """Where signing keys live when they do not come from the environment."""
        return self.keys_dir or self.data_dir / "keys"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
