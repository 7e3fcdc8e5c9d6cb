"""The audit log: every state change, written in the change's own transaction."""
