"""The agency side of flags: submit, list, read, withdraw, answer; and the state machine."""
