"""`Cache-Control: no-store` for every response that carries a secret or a token.

RFC 6749 §5.1 asks for `no-store` on token responses and `Pragma: no-cache` for HTTP/1.0
caches; a client secret or a webhook signing secret is shown once and must not be kept by
any cache on the way either. Every such route sets the headers through this module, and
`tests/hardening/test_no_store.py` walks the OpenAPI document for routes whose responses
carry a secret or token field, so a new one without the headers fails.
"""

from __future__ import annotations

from fastapi import Response

NO_STORE_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def no_store(response: Response) -> Response:
    """The response, marked so that no cache keeps it (a route's injected Response too)."""
    response.headers.update(NO_STORE_HEADERS)
    return response
