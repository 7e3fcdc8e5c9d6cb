"""The platform side: acknowledge, ask for information, report outcomes."""
