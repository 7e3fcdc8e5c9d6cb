"""Which webhook URLs FlagBridge will call: https in production, never private networks.

Checked when a URL is registered and again before every delivery, on the addresses the
name resolves to then; the delivery connects to the address that was checked (not a fresh
lookup), so a name that re-binds to 127.0.0.1 after registration (DNS rebinding) gets
nothing.

Registration accepts a name that does not resolve (yet): what a name resolves to when it is
registered protects nothing (rebinding makes the delivery-time check the one that counts),
and a platform may register its endpoint before its DNS record is published, or from a
server whose resolver cannot see it. A name that does resolve to a refused address, or a
refused address written as the host, is refused at once, since that is a clear mistake.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from app.kit.addresses import is_private_address


class UrlRefused(ValueError):
    """The URL may not be called; the message says why (shown to the caller)."""


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL and the address to connect to."""

    url: str
    host: str
    address: str

    @property
    def host_header(self) -> str:
        """The Host header the URL implies (its host and port)."""
        return urlsplit(self.url).netloc

    def pinned_url(self) -> str:
        """The URL with its host replaced by the checked address (Host and SNI stay)."""
        parts = urlsplit(self.url)
        ip = ipaddress.ip_address(self.address)
        netloc = f"[{ip}]" if ip.version == 6 else str(ip)
        if parts.port:
            netloc += f":{parts.port}"
        return parts._replace(netloc=netloc).geturl()


def check_shape(url: str, *, production: bool) -> SplitResult:
    """The URL's parts if its form is acceptable (scheme, host, no credentials)."""
    parts = urlsplit(url)
    allowed = ("https",) if production else ("https", "http")
    if parts.scheme not in allowed:
        raise UrlRefused("must be an https URL" if production else "must be an http(s) URL")
    if not parts.hostname:
        raise UrlRefused("has no host")
    if parts.username or parts.password:
        raise UrlRefused("may not carry credentials")
    try:
        _ = parts.port
    except ValueError as exc:
        raise UrlRefused("has an invalid port") from exc
    return parts


async def _addresses(parts: SplitResult) -> list[str]:
    """The addresses the URL's host resolves to now (empty when it does not resolve)."""
    default_port = 443 if parts.scheme == "https" else 80
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            parts.hostname or "", parts.port or default_port, type=socket.SOCK_STREAM
        )
    except OSError:
        return []
    return [str(info[4][0]).split("%")[0] for info in infos]


def _refuse_forbidden(addresses: list[str]) -> None:
    for address in addresses:
        if is_private_address(ipaddress.ip_address(address)):
            raise UrlRefused("resolves to a private, loopback or link-local address")


async def check_registration(url: str, *, production: bool, allow_private: bool) -> str:
    """Check a URL being registered; its host. An unresolvable name passes (see above)."""
    parts = check_shape(url, production=production)
    if not allow_private:
        _refuse_forbidden(await _addresses(parts))
    return parts.hostname or ""


async def resolve(url: str, *, production: bool, allow_private: bool) -> Target:
    """Check the URL and the addresses its host resolves to now; the first is connected to."""
    parts = check_shape(url, production=production)
    addresses = await _addresses(parts)
    if not addresses:
        raise UrlRefused("its host does not resolve")
    if not allow_private:
        _refuse_forbidden(addresses)
    return Target(url=url, host=parts.hostname or "", address=addresses[0])
