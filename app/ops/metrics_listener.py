"""The private metrics listener: Prometheus scrapes `/metrics` here, never on the public port.

The counters say, in real time, which routes are called and how submissions and holds fare;
published on the API's port they would undo the small-number suppression of the public
statistics. So the API answers 404 for `/metrics`, and `flagbridge serve` starts this
listener in its own process (the uvicorn supervisor when there are several workers) on
`FLAGBRIDGE_METRICS_BIND`, loopback by default. One listener serves every worker: in
multi-process mode it sums the workers' files (`observability.metrics_registry`).
"""

from __future__ import annotations

from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from app.observability import metrics_registry

DISABLED = frozenset({"", "off", "none", "false", "0"})


class BadBind(ValueError):
    """The bind address is not `host:port`."""


def parse_bind(value: str) -> tuple[str, int] | None:
    """`host:port` (IPv6 hosts in brackets) as a pair; None when the listener is off."""
    value = value.strip()
    if value.lower() in DISABLED:
        return None
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise BadBind(f"FLAGBRIDGE_METRICS_BIND must be host:port or off, not {value!r}")
    number = int(port)
    if number > 65535:
        raise BadBind(f"FLAGBRIDGE_METRICS_BIND has an invalid port: {value!r}")
    return host.strip("[]"), number


@dataclass
class MetricsListener:
    """A running listener; `address` says where it listens (the real port when asked for 0)."""

    server: WSGIServer

    @property
    def address(self) -> tuple[str, int]:
        """The host and port it listens on."""
        host, port = self.server.server_address[:2]
        return str(host), int(port)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()


def start(bind: str) -> MetricsListener | None:
    """Serve the metrics on `bind` in a daemon thread; None when the bind says off."""
    parsed = parse_bind(bind)
    if parsed is None:
        return None
    host, port = parsed
    server, _thread = start_http_server(port, addr=host, registry=metrics_registry())
    return MetricsListener(server)
