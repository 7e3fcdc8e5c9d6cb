"""Which hosts are not on the public internet: private, loopback, link-local and local names.

One classification for two uses: webhook URLs FlagBridge will not call
(app/webhooks/urls.py) and evidence URLs marked `private_host` for the platform
(app/flags/schemas.py), which FlagBridge never fetches.
"""

from __future__ import annotations

import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that never resolve on the public internet: RFC 6761 (localhost), RFC 6762 (.local,
# mDNS), RFC 8375 (home.arpa) and the TLD ICANN reserved for private use (.internal).
LOCAL_NAME_SUFFIXES = ("localhost", "local", "internal", "home.arpa")

# The forms inet_aton accepts and browsers still open (127.1, 0x7f000001, 2130706433).
_LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$")


def is_private_address(ip: IPAddress) -> bool:
    """Private (RFC 1918, RFC 4193), loopback, link-local, multicast, reserved or unspecified."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return is_private_address(ip.ipv4_mapped)
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means (legacy IPv4 forms too), else None."""
    host = host.strip("[]").split("%")[0]
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _LEGACY_IPV4.match(host.lower()):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_private_host(host: str | None) -> bool:
    """The URL host is a non-public IP literal or a local-only name (no DNS lookup is made)."""
    if not host:
        return False
    name = host.lower().rstrip(".")
    if any(name == s or name.endswith("." + s) for s in LOCAL_NAME_SUFFIXES):
        return True
    ip = literal_address(name)
    return ip is not None and is_private_address(ip)
