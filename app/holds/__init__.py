"""Deconfliction holds: an agency asks that an account not be alerted yet."""
