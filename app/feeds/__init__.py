"""The event feed of every organisation: lossless cursor, long-poll."""
