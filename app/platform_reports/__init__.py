"""Platforms' own period totals, shown beside the outcomes of flags."""
