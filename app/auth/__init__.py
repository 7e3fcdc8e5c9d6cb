"""Authentication: the token endpoint, signing keys, JWKS and the Principal of a request."""
