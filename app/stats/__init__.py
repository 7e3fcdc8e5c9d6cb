"""Statistics for dashboards: exact rollups, response times, platform reports."""
