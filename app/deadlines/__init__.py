"""Deadline policies: how long a platform has to act, per issuing country, kind and priority."""
