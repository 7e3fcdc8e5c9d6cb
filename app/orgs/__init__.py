"""Organisations and their API clients (administration)."""
