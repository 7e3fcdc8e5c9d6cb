"""Account identity: platform profiles and the canonical keys of an account."""
