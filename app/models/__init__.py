"""ORM tables; importing this package registers every table on Base.metadata."""

from app.models.api_client import ApiClient
from app.models.audit_entry import AuditEntry
from app.models.base import Base
from app.models.organization import ORG_KINDS, Organization

__all__ = ["ORG_KINDS", "ApiClient", "AuditEntry", "Base", "Organization"]
