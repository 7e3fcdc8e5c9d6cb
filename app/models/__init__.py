"""ORM tables; importing this package registers every table on Base.metadata."""

from app.models.account import Account
from app.models.agency_rollup import AgencyRollup
from app.models.api_client import ApiClient
from app.models.audit_checkpoint import AuditCheckpoint
from app.models.audit_entry import AuditEntry
from app.models.audit_seal import AuditSeal
from app.models.base import Base
from app.models.deadline_policy import DeadlinePolicy
from app.models.feed_event import FeedEvent
from app.models.flag import Flag
from app.models.flag_event import FlagEvent
from app.models.hold import Hold
from app.models.idempotency_key import IdempotencyKey
from app.models.org_feed_state import OrgFeedState
from app.models.organization import ORG_KINDS, Organization
from app.models.outcome_rollup import OutcomeRollup
from app.models.platform_report import PlatformReport
from app.models.platform_report_row import PlatformReportRow
from app.models.response_time_rollup import ResponseTimeRollup

__all__ = [
    "ORG_KINDS",
    "Account",
    "AgencyRollup",
    "ApiClient",
    "AuditCheckpoint",
    "AuditEntry",
    "AuditSeal",
    "Base",
    "DeadlinePolicy",
    "FeedEvent",
    "Flag",
    "FlagEvent",
    "Hold",
    "IdempotencyKey",
    "OrgFeedState",
    "Organization",
    "OutcomeRollup",
    "PlatformReport",
    "PlatformReportRow",
    "ResponseTimeRollup",
]
