"""Feed delivery and platform answers, as the platform of the batch workload sees them.

First delivery: the platform follows its feed from the start in pages of `page` events;
each page hands new flags over (sets `delivered_at`, writes their `delivered` history).
Re-read: the same pages again, from the same cursors (nothing new to hand over). Answers:
POST /v1/outcomes/batch with acks of every delivered flag, then outcomes, `size` at a time.
"""

from __future__ import annotations

import time
from typing import Any

from benchmarks.harness.timing import latency_summary


def _page_stats(samples: list[float], items: int) -> dict[str, Any]:
    seconds = sum(samples) / 1000
    return {
        "pages": len(samples),
        "items": items,
        "seconds": round(seconds, 3),
        "items_per_s": round(items / seconds, 1) if seconds else 0.0,
        "per_page": latency_summary(samples) if samples else None,
    }


def read_feed(base: str, token: str, *, page: int) -> dict[str, Any]:
    """Follow the feed from the start (first delivery), then read the same pages again."""
    import httpx

    cursors: list[str | None] = [None]
    first: list[float] = []
    again: list[float] = []
    delivered = 0
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=120.0) as client:

        def get(cursor: str | None) -> tuple[dict[str, Any], float]:
            params: dict[str, Any] = {"limit": page}
            if cursor is not None:
                params["cursor"] = cursor
            started = time.perf_counter()
            resp = client.get("/v1/feed", params=params)
            ms = (time.perf_counter() - started) * 1000
            resp.raise_for_status()
            return resp.json(), ms

        while True:
            body, ms = get(cursors[-1])
            if not body["items"]:
                break
            first.append(ms)
            delivered += sum(1 for i in body["items"] if i["type"] == "flag.created")
            cursors.append(body["next_cursor"])
        reread = 0
        for cursor in cursors[:-1]:
            body, ms = get(cursor)
            again.append(ms)
            reread += len(body["items"])
    return {
        "page": page,
        "flags_handed_over": delivered,
        "first": _page_stats(first, delivered),
        "reread": _page_stats(again, reread),
    }


def answer_batches(base: str, token: str, flag_ids: list[str], *, size: int) -> dict[str, Any]:
    """Acks of every flag, then an outcome for each, in POST /v1/outcomes/batch of `size`."""
    import httpx

    out: dict[str, Any] = {}
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=300.0) as client:
        for kind, extra in (("ack", {}), ("outcome", {"action": "account_suspended"})):
            samples: list[float] = []
            done = failed = 0
            first_failure = None
            for start in range(0, len(flag_ids), size):
                items = [{"flag_id": f, "type": kind, **extra} for f in flag_ids[start:][:size]]
                started = time.perf_counter()
                resp = client.post("/v1/outcomes/batch", json={"items": items})
                samples.append((time.perf_counter() - started) * 1000)
                resp.raise_for_status()
                for result in resp.json()["results"]:
                    if result["status"] == 200:
                        done += 1
                    else:
                        failed += 1
                        first_failure = first_failure or result
            seconds = sum(samples) / 1000
            out[kind] = {
                "items": done,
                "failed": failed,
                "first_failure": first_failure,
                "seconds": round(seconds, 3),
                "items_per_s": round(done / seconds, 1) if seconds else 0.0,
                "per_batch": latency_summary(samples) if samples else None,
            }
    return out
