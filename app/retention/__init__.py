"""Retention: personal data is removed once it has been kept for the configured period."""
