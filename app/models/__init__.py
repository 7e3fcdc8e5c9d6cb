"""ORM tables; importing this package registers every table on Base.metadata."""

from app.models.account import Account
from app.models.account_conflict import AccountConflict
from app.models.account_key import AccountKey
from app.models.api_client import ApiClient
from app.models.audit_archive import AuditArchive
from app.models.audit_checkpoint import AuditCheckpoint
from app.models.audit_cosignature import AuditCosignature
from app.models.audit_entry import AuditEntry
from app.models.audit_seal import AuditSeal
from app.models.audit_verification import AuditVerification
from app.models.base import Base
from app.models.contest_rollup_day import ContestRollupDay
from app.models.deadline_policy import DeadlinePolicy
from app.models.feed_event import FeedEvent
from app.models.flag import Flag
from app.models.flag_event import FlagEvent
from app.models.hold import Hold
from app.models.hold_renewal import HoldRenewal
from app.models.idempotency_key import IdempotencyKey
from app.models.org_feed_state import OrgFeedState
from app.models.organization import ORG_KINDS, Organization
from app.models.outcome_rollup_day import OutcomeRollupDay
from app.models.outcome_rollup_month import OutcomeRollupMonth
from app.models.outcome_rollup_narrow_day import OutcomeRollupNarrowDay
from app.models.outcome_rollup_narrow_month import OutcomeRollupNarrowMonth
from app.models.outcome_statement import OutcomeStatement
from app.models.platform_report import PlatformReport
from app.models.platform_report_row import PlatformReportRow
from app.models.published_report import PublishedReport
from app.models.rate_limit_backoff import RateLimitBackoff
from app.models.rate_limit_policy import RateLimitPolicy
from app.models.rate_limit_waiter import RateLimitWaiter
from app.models.rate_limit_window import RateLimitWindow
from app.models.response_time_rollup_day import ResponseTimeRollupDay
from app.models.response_time_rollup_month import ResponseTimeRollupMonth
from app.models.response_time_rollup_month_by import ResponseTimeRollupMonthBy
from app.models.statement_rollup_day import StatementRollupDay
from app.models.webhook import Webhook
from app.models.webhook_delivery import WebhookDelivery
from app.models.withdrawal_rollup import WithdrawalRollup
from app.models.witness_key import WitnessKey

__all__ = [
    "ORG_KINDS",
    "Account",
    "AccountConflict",
    "AccountKey",
    "ApiClient",
    "AuditArchive",
    "AuditCheckpoint",
    "AuditCosignature",
    "AuditEntry",
    "AuditSeal",
    "AuditVerification",
    "Base",
    "ContestRollupDay",
    "DeadlinePolicy",
    "FeedEvent",
    "Flag",
    "FlagEvent",
    "Hold",
    "HoldRenewal",
    "IdempotencyKey",
    "OrgFeedState",
    "Organization",
    "OutcomeRollupDay",
    "OutcomeRollupMonth",
    "OutcomeRollupNarrowDay",
    "OutcomeRollupNarrowMonth",
    "OutcomeStatement",
    "PlatformReport",
    "PlatformReportRow",
    "PublishedReport",
    "RateLimitBackoff",
    "RateLimitPolicy",
    "RateLimitWaiter",
    "RateLimitWindow",
    "ResponseTimeRollupDay",
    "ResponseTimeRollupMonth",
    "ResponseTimeRollupMonthBy",
    "StatementRollupDay",
    "Webhook",
    "WebhookDelivery",
    "WithdrawalRollup",
    "WitnessKey",
]
