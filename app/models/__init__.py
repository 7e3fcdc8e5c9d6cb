"""ORM tables; importing this package registers every table on Base.metadata."""

from app.models.account import Account
from app.models.api_client import ApiClient
from app.models.audit_archive import AuditArchive
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

__all__ = [
    "ORG_KINDS",
    "Account",
    "ApiClient",
    "AuditArchive",
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
]
