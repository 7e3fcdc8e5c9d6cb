"""The `flagbridge` command line."""
