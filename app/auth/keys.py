"""ES256 signing keys: loaded once per process, several may verify so keys rotate smoothly.

Keys live as PEM files in a folder (default `<data_dir>/keys`): `<kid>.pem` holds a private
key, `<kid>.pub.pem` a public key that still verifies but no longer signs, and the file
`active` names the kid that signs. `kid` is the RFC 7638 thumbprint of the public key, so
it is stable and derivable. `history/<kid>.pub.pem` holds the public half of every key that
was forgotten (`keys retire --forget`): it verifies no token any more, but checkpoints and
archive records it signed stay verifiable for good (served at
/.well-known/flagbridge-key-history.json). Keys can instead come from the environment
(`FLAGBRIDGE_SIGNING_KEY_PEM`, `FLAGBRIDGE_VERIFICATION_KEYS_PEM`).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws
from jose.backends.base import Key
from jose.backends.cryptography_backend import CryptographyECKey

from app.config import Settings

log = logging.getLogger(__name__)

ALGORITHM = "ES256"
_PEM_BLOCK = re.compile(
    r"-----BEGIN [A-Z ]+-----[^-]+-----END [A-Z ]+-----", re.MULTILINE | re.DOTALL
)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The public key as a JWK (without kid)."""
    numbers = public_key.public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": _b64url(numbers.x.to_bytes(32, "big")),
        "y": _b64url(numbers.y.to_bytes(32, "big")),
    }


def thumbprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), used as kid."""
    jwk = public_jwk(public_key)
    canonical = json.dumps(
        {k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass
class KeyRing:
    """The signing key and every key that still verifies, as ready-to-use objects."""

    signing_kid: str
    signing_key: Key
    verifying: dict[str, Key]
    jwks: dict[str, Any]
    source: Path | None = None
    loaded_at: float = field(default_factory=time.monotonic)
    forgotten: dict[str, Key] = field(default_factory=dict)
    history: dict[str, Any] = field(default_factory=lambda: {"keys": []})

    def verifier(self, kid: str) -> Key | None:
        """The verification key for kid, if it is listed (tokens: live keys only)."""
        return self.verifying.get(kid)

    def historic_verifier(self, kid: str) -> Key | None:
        """The key for kid among every key that ever signed (checkpoints, archive records)."""
        return self.verifying.get(kid) or self.forgotten.get(kid)

    def sign_statement(self, payload: bytes | dict[str, Any], *, typ: str) -> str:
        """A compact JWS over payload with the signing key, its kid and typ in the header:
        how the service signs what it states (audit checkpoints, transparency reports)."""
        headers = {"kid": self.signing_kid, "typ": typ}
        return str(jws.sign(payload, self.signing_key, headers=headers, algorithm=ALGORITHM))


def _jwk_entry(kid: str, pub: ec.EllipticCurvePublicKey) -> dict[str, str]:
    return {**public_jwk(pub), "kid": kid, "use": "sig", "alg": ALGORITHM}


def _build_ring(
    private: dict[str, ec.EllipticCurvePrivateKey],
    public: dict[str, ec.EllipticCurvePublicKey],
    active: str,
    source: Path | None,
    forgotten: dict[str, ec.EllipticCurvePublicKey] | None = None,
) -> KeyRing:
    all_public = {kid: k.public_key() for kid, k in private.items()} | public
    gone = {kid: k for kid, k in (forgotten or {}).items() if kid not in all_public}
    return KeyRing(
        signing_kid=active,
        signing_key=CryptographyECKey(private[active], ALGORITHM),
        verifying={kid: CryptographyECKey(k, ALGORITHM) for kid, k in sorted(all_public.items())},
        jwks={"keys": [_jwk_entry(kid, k) for kid, k in sorted(all_public.items())]},
        source=source,
        forgotten={kid: CryptographyECKey(k, ALGORITHM) for kid, k in gone.items()},
        history={
            "keys": [
                {**_jwk_entry(kid, k), "status": "forgotten" if kid in gone else "live"}
                for kid, k in sorted((all_public | gone).items())
            ]
        },
    )


def _load_pem_private(data: bytes) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("signing keys must be EC P-256 (ES256)")
    return key


def _load_pem_public(data: bytes) -> ec.EllipticCurvePublicKey:
    key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise ValueError("verification keys must be EC P-256 (ES256)")
    return key


def generate_key(keys_dir: Path, *, activate: bool = True) -> str:
    """Create a new private key file in keys_dir; make it the signer if activate. Returns kid."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = ec.generate_private_key(ec.SECP256R1())
    kid = thumbprint(key.public_key())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = keys_dir / f"{kid}.pem"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    if activate:
        _write_active(keys_dir, kid)
    return kid


def _write_active(keys_dir: Path, kid: str) -> None:
    tmp = keys_dir / ".active.tmp"
    tmp.write_text(kid + "\n")
    tmp.replace(keys_dir / "active")


def activate_key(keys_dir: Path, kid: str) -> None:
    """Make an existing private key the signer."""
    if not (keys_dir / f"{kid}.pem").exists():
        raise FileNotFoundError(f"no private key {kid} in {keys_dir}")
    _write_active(keys_dir, kid)


HISTORY_DIR = "history"


def _public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def retire_key(keys_dir: Path, kid: str, *, forget: bool = False) -> None:
    """Stop a key from signing; keep its public half for verification unless forget.

    Forgetting stops the key verifying tokens, but its public half moves to the permanent
    key history, never away: checkpoints and archive records it signed must stay
    verifiable after any number of rotations.
    """
    active = (keys_dir / "active").read_text().strip() if (keys_dir / "active").exists() else ""
    if kid == active:
        raise ValueError("cannot retire the active key; rotate first")
    priv = keys_dir / f"{kid}.pem"
    pub = keys_dir / f"{kid}.pub.pem"
    if priv.exists():
        public = _load_pem_private(priv.read_bytes()).public_key()
    elif pub.exists():
        public = _load_pem_public(pub.read_bytes())
    else:
        raise FileNotFoundError(f"no key {kid} in {keys_dir}")
    if forget:
        history = keys_dir / HISTORY_DIR
        history.mkdir(exist_ok=True, mode=0o700)
        (history / f"{kid}.pub.pem").write_bytes(_public_pem(public))
        pub.unlink(missing_ok=True)
    else:
        pub.write_bytes(_public_pem(public))
    priv.unlink(missing_ok=True)


def list_keys(keys_dir: Path) -> list[dict[str, Any]]:
    """Describe the keys in a folder: kid, whether it can sign, whether it is active."""
    active = (keys_dir / "active").read_text().strip() if (keys_dir / "active").exists() else ""
    out = []
    for path in sorted(keys_dir.glob("*.pem")):
        is_pub = path.name.endswith(".pub.pem")
        kid = path.name[: -len(".pub.pem")] if is_pub else path.name[: -len(".pem")]
        out.append({"kid": kid, "private": not is_pub, "active": kid == active})
    return out


def load_from_dir(keys_dir: Path) -> KeyRing:
    """Load every key in the folder, generating the first one if the folder is empty."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Several processes may start at once; one generates, the others wait and read.
    with open(keys_dir / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not any(p for p in keys_dir.glob("*.pem") if not p.name.endswith(".pub.pem")):
                kid = generate_key(keys_dir)
                log.info("generated signing key", extra={"kid": kid})
            private: dict[str, ec.EllipticCurvePrivateKey] = {}
            public: dict[str, ec.EllipticCurvePublicKey] = {}
            forgotten = {
                thumbprint(pk): pk
                for pk in (
                    _load_pem_public(p.read_bytes())
                    for p in (keys_dir / HISTORY_DIR).glob("*.pub.pem")
                )
            }
            for path in keys_dir.glob("*.pem"):
                if path.name.endswith(".pub.pem"):
                    pk = _load_pem_public(path.read_bytes())
                    public[thumbprint(pk)] = pk
                else:
                    sk = _load_pem_private(path.read_bytes())
                    private[thumbprint(sk.public_key())] = sk
            active_file = keys_dir / "active"
            active = active_file.read_text().strip() if active_file.exists() else ""
            if active not in private:
                newest = max(
                    (p for p in keys_dir.glob("*.pem") if not p.name.endswith(".pub.pem")),
                    key=lambda p: p.stat().st_mtime,
                )
                active = newest.name[: -len(".pem")]
                _write_active(keys_dir, active)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return _build_ring(private, public, active, keys_dir, forgotten)


def load_from_settings(signing_pem: str, verification_pems: str | None) -> KeyRing:
    """Build the ring from PEM text given in the environment."""
    sk = _load_pem_private(signing_pem.encode())
    kid = thumbprint(sk.public_key())
    public = {}
    for block in _PEM_BLOCK.findall(verification_pems or ""):
        pk = _load_pem_public(block.encode())
        public[thumbprint(pk)] = pk
    return _build_ring({kid: sk}, public, kid, None)


def load_key_ring(settings: Settings) -> KeyRing:
    """The key ring this process signs and verifies with."""
    if settings.signing_key_pem:
        return load_from_settings(settings.signing_key_pem, settings.verification_keys_pem)
    return load_from_dir(settings.resolved_keys_dir)
