"""Rate limits shared by every worker and host: API budgets, token back-off, long-poll slots."""
