"""FlagBridge: authenticated, audited referrals of terrorism-linked accounts to platforms."""

__version__ = "0.1.0"
