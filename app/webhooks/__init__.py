"""Webhooks: signed pushes of every feed event to an organisation's endpoint."""
