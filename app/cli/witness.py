"""`flagbridge audit witness`: a member's side of witnessing, over the HTTP API only.

Fetch the newest checkpoint, check that it extends the checkpoint this member saved last
(folding the chain's leaf hashes from the saved head must reach the new head: the service
cannot produce such leaves for a rewritten history without breaking SHA-256), check the
service's signature, co-sign it with the member's key, and save it as the new reference.
The first run has nothing to compare with and trusts what it sees (trust on first use).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jose import jws

from app.audit.checkpoints import saved_checkpoints
from app.audit.sealing import chain_hash
from app.audit.witnesses import cosign
from app.auth.keys import ALGORITHM, public_jwk, thumbprint
from app.cli.common import emit, fail, json_parent


class WitnessError(Exception):
    """The run cannot go on (bad input, the service refused); exit 2."""


class Inconsistent(Exception):
    """The service's newest checkpoint does not extend the saved one; exit 1, never co-sign."""


def register(audit_sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `audit witness` to the audit command group."""
    witness = audit_sub.add_parser(
        "witness",
        parents=[json_parent],
        help="keep, check and co-sign checkpoints as a member (over the HTTP API)",
        description="Fetch the newest checkpoint, check that it extends the one saved in "
        "--state (recomputing the chain from the saved head with GET /v1/audit/chain), "
        "check its signature, co-sign it with --key and save it. Exit 1 (and no "
        "co-signature) if it does not extend the saved one. --generate-key FILE makes a key.",
    )
    witness.add_argument("--generate-key", metavar="KEYFILE", help="write a new witness key")
    witness.add_argument("--url", help="the service, e.g. https://flagbridge.example.org")
    witness.add_argument("--client-id")
    witness.add_argument("--client-secret", help="or FLAGBRIDGE_CLIENT_SECRET")
    witness.add_argument("--key", metavar="KEYFILE", help="your witness key (PEM)")
    witness.add_argument("--state", metavar="FILE", help="where the last checkpoint is kept")
    witness.set_defaults(func=cmd_witness, needs_database=False)


def cmd_witness(args: argparse.Namespace) -> int:
    """Generate a key, or witness the newest checkpoint."""
    if args.generate_key:
        return _generate(args, Path(args.generate_key))
    secret = args.client_secret or os.environ.get("FLAGBRIDGE_CLIENT_SECRET")
    missing = (
        [
            f"--{n.replace('_', '-')}"
            for n, v in (("url", args.url), ("client_id", args.client_id), ("key", args.key))
            if not v
        ]
        + ([] if secret else ["--client-secret"])
        + ([] if args.state else ["--state"])
    )
    if missing:
        return fail(args, f"missing {', '.join(missing)} (or use --generate-key)", code=2)
    try:
        key = _load_key(Path(args.key))
        saved = _load_state(Path(args.state))
        out = asyncio.run(
            _over_http(args.url, key, saved, client_id=args.client_id, secret=str(secret))
        )
    except Inconsistent as exc:
        return fail(args, f"INCONSISTENT: {exc}; not co-signed, state kept", code=1)
    except (WitnessError, httpx.HTTPError) as exc:
        return fail(args, str(exc), code=2)
    _save_state(Path(args.state), out["checkpoint"])
    emit(
        args,
        out,
        f"co-signed checkpoint seq {out['checkpoint']['seq']}"
        + (
            f" (extends seq {out['previous_seq']}: {out['leaves_checked']} links recomputed)"
            if out["previous_seq"] is not None
            else " (first run: nothing saved to compare with, trusted on first use)"
        ),
    )
    return 0


async def _over_http(
    url: str, key: ec.EllipticCurvePrivateKey, saved: dict[str, Any] | None, **creds: str
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=url.rstrip("/"), timeout=60) as http:
        return await witness_newest(http, key, saved, **creds)


def _generate(args: argparse.Namespace, path: Path) -> int:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as exc:
        return fail(args, f"cannot create {path}: {exc.strerror or exc}", code=2)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    kid = thumbprint(key.public_key())
    jwk = {**public_jwk(key.public_key()), "kid": kid}
    emit(args, {"kid": kid, "jwk": jwk, "file": str(path)}, f"witness key {kid} in {path}")
    return 0


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise WitnessError(f"cannot read the witness key {path}: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise WitnessError(f"{path} is not an EC P-256 private key")
    return key


def _load_state(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        return saved_checkpoints(json.loads(path.read_bytes()).get("checkpoint"))[0]
    except (OSError, ValueError, AttributeError) as exc:
        raise WitnessError(f"the state file {path} is unreadable: {exc}") from None


def _save_state(path: Path, checkpoint: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps({"checkpoint": checkpoint}, indent=2) + "\n")
    tmp.replace(path)


async def _call(http: httpx.AsyncClient, method: str, url: str, **kw: Any) -> Any:
    resp = await http.request(method, url, **kw)
    if resp.status_code >= 300:
        try:
            detail = resp.json().get("detail")
        except ValueError:
            detail = resp.text[:200]
        raise WitnessError(f"{method} {url}: {resp.status_code} {detail}")
    return resp.json()


async def witness_newest(
    http: httpx.AsyncClient,
    key: ec.EllipticCurvePrivateKey,
    saved: dict[str, Any] | None,
    *,
    client_id: str,
    secret: str,
) -> dict[str, Any]:
    """Check the newest checkpoint against saved and co-sign it; returns what to save."""
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    token = (await _call(http, "POST", "/oauth/token", data=form))["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"
    jwk = {**public_jwk(key.public_key()), "kid": thumbprint(key.public_key())}
    await _call(http, "PUT", "/v1/audit/witness-key", json={"jwk": jwk})
    newest = await _newest_checkpoint(http)
    history = await _call(http, "GET", "/.well-known/flagbridge-key-history.json")
    _check_service_signature(newest, history)
    checked = 0
    if saved is not None:
        checked = await _check_extends(http, saved, newest)
    await _call(
        http,
        "POST",
        f"/v1/audit/checkpoints/{newest['seq']}/cosign",
        json={"signature": cosign(newest, key)},
    )
    return {
        "checkpoint": newest,
        "previous_seq": saved["seq"] if saved else None,
        "leaves_checked": checked,
    }


async def _newest_checkpoint(http: httpx.AsyncClient) -> dict[str, Any]:
    newest: dict[str, Any] | None = None
    cursor: str | None = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = await _call(http, "GET", "/v1/audit/checkpoints", params=params)
        for cp in saved_checkpoints(page) if page["items"] else []:
            if newest is None or cp["seq"] >= newest["seq"]:
                newest = cp
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if newest is None:
        raise WitnessError("the service has published no checkpoint yet")
    return newest


def _check_service_signature(checkpoint: dict[str, Any], history: dict[str, Any]) -> None:
    jwk = next((k for k in history.get("keys", []) if k.get("kid") == checkpoint["kid"]), None)
    if jwk is None:
        raise Inconsistent(f"checkpoint seq {checkpoint['seq']} names a key not in the history")
    try:
        payload = json.loads(jws.verify(checkpoint["signature"], jwk, algorithms=[ALGORITHM]))
    except Exception:
        raise Inconsistent(
            f"checkpoint seq {checkpoint['seq']}: signature does not verify"
        ) from None
    if payload != {k: checkpoint[k] for k in ("seq", "head_hash", "signed_at")}:
        raise Inconsistent(f"checkpoint seq {checkpoint['seq']}: signed statement differs")


async def _check_extends(
    http: httpx.AsyncClient, saved: dict[str, Any], newest: dict[str, Any]
) -> int:
    """Fold the leaves after the saved position from the saved head; it must reach the
    newest head. Returns how many links were recomputed."""
    if newest["seq"] < saved["seq"]:
        raise Inconsistent(
            f"the newest checkpoint (seq {newest['seq']}) is older than the saved one "
            f"(seq {saved['seq']})"
        )
    head = bytes.fromhex(saved["head_hash"])
    position = saved["seq"]
    while position < newest["seq"]:
        limit = min(10_000, newest["seq"] - position)
        page = await _call(
            http, "GET", "/v1/audit/chain", params={"after": position, "limit": limit}
        )
        if not page["items"]:
            raise Inconsistent(f"the chain ends at position {position}, before seq {newest['seq']}")
        for leaf in page["items"]:
            if leaf["position"] != position + 1:
                raise Inconsistent(f"position {position + 1} is missing from the chain")
            head = chain_hash(head, bytes.fromhex(leaf["entry_hash"]))
            position += 1
            if position == newest["seq"]:
                break
    if head.hex() != newest["head_hash"]:
        raise Inconsistent(
            f"the chain from the saved checkpoint (seq {saved['seq']}) does not reach the head "
            f"of seq {newest['seq']}: history before seq {saved['seq']} was rewritten"
        )
    return newest["seq"] - saved["seq"]
