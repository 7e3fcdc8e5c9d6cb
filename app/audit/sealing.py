"""The audit hash chain: sealing committed entries in a stable order, and verifying it.

Writers never touch the chain (they would serialise on its head). Instead a sealing step,
run by every server process in the background but by one at a time (an advisory lock),
appends committed entries to `audit_seal`. It reads entries in `(txid, seq)` order below
its snapshot's xmin, exactly like the feed (app/feeds/service.py): every transaction below
xmin has finished, so no entry can later appear before the sealed position, and a
late-committing writer is sealed after, never skipped or sealed out of order.

Hashes (RFC 6962-style domain separation):
    entry_hash = SHA-256(0x00 || canonical JSON of the entry)
    chain_hash = SHA-256(0x01 || previous chain_hash || entry_hash)
    (the "previous" of the first entry is 32 zero bytes)
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.kit.canonical import canonical_json
from app.kit.clock import rfc3339
from app.kit.locks import AdvisoryLock

SEAL_LOCK = int(AdvisoryLock.AUDIT_SEAL)
GENESIS = b"\x00" * 32


def canonical_entry(row: dict[str, Any]) -> bytes:
    """The exact bytes an audit entry is hashed as."""
    return canonical_json(
        {
            "seq": row["seq"],
            "at": rfc3339(row["at"]),
            "actor_client_id": str(row["actor_client_id"]) if row["actor_client_id"] else None,
            "actor_org_id": str(row["actor_org_id"]) if row["actor_org_id"] else None,
            "actor_label": row["actor_label"],
            "client_ip": row["client_ip"],
            "request_id": row["request_id"],
            "action": row["action"],
            "object_type": row["object_type"],
            "object_id": row["object_id"],
            "data": row["data"],
        }
    )


def entry_hash(row: dict[str, Any]) -> bytes:
    """Leaf hash of an entry."""
    return hashlib.sha256(b"\x00" + canonical_entry(row)).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    """The chain's head after appending a leaf."""
    return hashlib.sha256(b"\x01" + previous + leaf).digest()


ENTRY_COLUMNS = (
    "e.seq, e.txid, e.at, e.actor_client_id, e.actor_org_id, e.actor_label, e.client_ip, "
    "e.request_id, e.action, e.object_type, e.object_id, e.data"
)


async def seal_pending(sessionmaker: async_sessionmaker[AsyncSession], *, batch: int = 1000) -> int:
    """Append every committed, unsealed entry to the chain. Returns how many were sealed."""
    total = 0
    while True:
        async with sessionmaker() as session, session.begin():
            got = (
                await session.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEAL_LOCK}
                )
            ).scalar()
            if not got:
                return total  # another process is sealing
            head = (
                await session.execute(
                    text(
                        "SELECT position, entry_txid, entry_seq, chain_hash FROM audit_seal "
                        "ORDER BY position DESC LIMIT 1"
                    )
                )
            ).first()
            position, last_txid, last_seq, previous = (
                (head[0], head[1], head[2], bytes(head[3])) if head else (0, 0, 0, GENESIS)
            )
            rows = (
                (
                    await session.execute(
                        text(
                            f"SELECT {ENTRY_COLUMNS} FROM audit_entry e "  # noqa: S608
                            "WHERE e.txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
                            "AND (e.txid, e.seq) > (:txid, :seq) ORDER BY e.txid, e.seq LIMIT :n"
                        ),
                        {"txid": last_txid, "seq": last_seq, "n": batch},
                    )
                )
                .mappings()
                .all()
            )
            if not rows:
                return total
            # Hashing is CPU work: a worker thread, so the event loop keeps serving.
            values = await asyncio.to_thread(_links, rows, position, previous)
            await session.execute(
                text(
                    "INSERT INTO audit_seal (position, entry_seq, entry_txid, entry_at, "
                    "entry_hash, chain_hash) VALUES (:p, :s, :t, :a, :e, :c)"
                ),
                values,
            )
            total += len(rows)
        if len(rows) < batch:
            return total


def _links(rows: Sequence[Any], position: int, previous: bytes) -> list[dict[str, Any]]:
    """The chain links of entries appended after `position`, whose chain hash is `previous`."""
    values = []
    for row in rows:
        position += 1
        leaf = entry_hash(dict(row))
        previous = chain_hash(previous, leaf)
        values.append(
            {
                "p": position,
                "s": row["seq"],
                "t": row["txid"],
                "a": row["at"],
                "e": leaf,
                "c": previous,
            }
        )
    return values


def exported(row: dict[str, Any]) -> dict[str, Any]:
    """An entry as `audit export` and archive files write it: the canonical fields plus its
    chain position and hashes (None if not sealed yet)."""
    entry: dict[str, Any] = json.loads(canonical_entry(row))
    entry["chain"] = (
        {
            "position": row["position"],
            "entry_hash": bytes(row["entry_hash"]).hex(),
            "chain_hash": bytes(row["chain_hash"]).hex(),
        }
        if row.get("position") is not None
        else None
    )
    return entry


def exported_entry_hash(line: dict[str, Any]) -> bytes:
    """Leaf hash of an exported entry (its canonical fields re-encoded)."""
    fields = {k: v for k, v in line.items() if k != "chain"}
    return hashlib.sha256(b"\x00" + canonical_json(fields)).digest()


async def export_entries(
    session: AsyncSession,
    *,
    since: datetime | None,
    until: datetime | None,
    chunk: int = 5000,
) -> AsyncIterator[dict[str, Any]]:
    """Entries oldest first with their chain position and hashes (if sealed), in chunks."""
    after = 0
    while True:
        rows = (
            (
                await session.execute(
                    text(
                        f"SELECT {ENTRY_COLUMNS}, s.position, s.entry_hash, s.chain_hash "  # noqa: S608
                        "FROM audit_entry e LEFT JOIN audit_seal s ON s.entry_seq = e.seq "
                        "WHERE e.seq > :after "
                        "AND (CAST(:since AS timestamptz) IS NULL OR e.at >= :since) "
                        "AND (CAST(:until AS timestamptz) IS NULL OR e.at < :until) "
                        "ORDER BY e.seq LIMIT :n"
                    ),
                    {"after": after, "since": since, "until": until, "n": chunk},
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        for row in rows:
            yield exported(dict(row))
        after = rows[-1]["seq"]


@dataclass
class Verification:
    """The result of recomputing the chain after position `after` (0: from its start)."""

    ok: bool
    entries: int
    head: str | None
    first_bad_seq: int | None = None
    first_bad_position: int | None = None
    problem: str | None = None
    archived: int = 0
    after: int = 0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "status": "ok" if self.ok else "mismatch",
            "entries": self.entries,
            "archived": self.archived,
            "head": self.head,
            "first_bad_seq": self.first_bad_seq,
            "first_bad_position": self.first_bad_position,
            "problem": self.problem,
            "full": self.after == 0,
            "from_seq": self.after + 1,
            "to_seq": self.after + self.entries,
        }


@dataclass
class _Archive:
    name: str
    start: datetime
    end: datetime
    expected: int
    sha256: str
    seen: int = 0
    lines: Iterator[dict[str, Any]] | None = None


async def _stream(
    session: AsyncSession, chunk: int, after: int
) -> AsyncIterator[list[dict[str, Any]]]:
    """Chain links after `after` in order with their entries, a chunk at a time. The join
    includes `at` so that only the entry's own month partition is probed; entries not found
    there (archived, deleted, or with an edited `at`) are looked up by seq alone, once per
    chunk."""
    while True:
        rows = (
            (
                await session.execute(
                    text(
                        f"SELECT s.position, s.entry_seq, s.entry_at, s.entry_hash, s.chain_hash, "  # noqa: S608
                        f"e.seq IS NOT NULL AS present, {ENTRY_COLUMNS} "
                        "FROM audit_seal s LEFT JOIN audit_entry e "
                        "ON e.seq = s.entry_seq AND e.at = s.entry_at "
                        "WHERE s.position > :after ORDER BY s.position LIMIT :n"
                    ),
                    {"after": after, "n": chunk},
                )
            )
            .mappings()
            .all()
        )
        if not rows:
            return
        # Links with no entry at their own `at`: one lookup by seq alone for the whole chunk
        # (an archived month has thousands of them; an edited `at` is found here).
        missing = [row["entry_seq"] for row in rows if not row["present"]]
        moved: dict[int, Any] = {}
        if missing:
            found = await session.execute(
                text(f"SELECT {ENTRY_COLUMNS} FROM audit_entry e WHERE e.seq = ANY(:s)"),  # noqa: S608
                {"s": missing},
            )
            moved = {r["seq"]: r for r in found.mappings()}
        out = []
        for row in rows:
            link = dict(row)
            if not link["present"] and link["entry_seq"] in moved:
                link.update(moved[link["entry_seq"]], present=True)
            out.append(link)
        yield out
        after = rows[-1]["position"]


class _ChainCheck:
    """The running state of one verification. `check` hashes a chunk of links and runs in
    a worker thread (about 9 s of CPU per million entries must not stall the event loop);
    the chunks are checked one after another, so the state is never shared."""

    def __init__(self, archives: list[_Archive], *, after: int, head: bytes, progress: Any) -> None:
        self.archives = archives
        self.after = after
        self.previous = head
        self.count = 0
        self.progress = progress

    def _result(self, *, ok: bool, entries: int, **problem: Any) -> Verification:
        return Verification(
            ok=ok,
            entries=entries,
            head=self.previous.hex() if self.after or self.count else None,
            archived=sum(a.seen for a in self.archives),
            after=self.after,
            **problem,
        )

    def _broken(self, row: dict[str, Any], problem: str) -> Verification:
        return self._result(
            ok=False,
            entries=self.count - 1,
            first_bad_seq=row["entry_seq"],
            first_bad_position=row["position"],
            problem=problem,
        )

    def check(self, rows: list[dict[str, Any]]) -> Verification | None:
        """The first link of the chunk that does not hold, as the run's result (None: all hold)."""
        for row in rows:
            self.count += 1
            problem = self._problem(row)
            if problem is not None:
                return self._broken(row, problem)
            self.previous = bytes(row["chain_hash"])
            if self.progress is not None:
                self.progress(self.count)
        return None

    def _problem(self, row: dict[str, Any]) -> str | None:
        sealed_leaf = bytes(row["entry_hash"])
        if row["position"] != self.after + self.count:
            return "a position is missing from the chain"
        if row["present"]:
            if entry_hash(row) != sealed_leaf:
                return "the entry does not match its sealed hash (edited or swapped)"
        else:
            home = next((a for a in self.archives if a.start <= row["entry_at"] < a.end), None)
            if home is None:
                return "the sealed entry is missing from the audit log"
            home.seen += 1
            if home.seen > home.expected:
                return f"more entries are missing than {home.name} archived"
            if home.lines is not None:
                line = next(home.lines, None)
                if line is None or (line.get("chain") or {}).get("position") != row["position"]:
                    return f"the archive file of {home.name} lacks this entry"
                if exported_entry_hash(line) != sealed_leaf:
                    return f"the archived entry ({home.name}) was altered"
        if chain_hash(self.previous, sealed_leaf) != bytes(row["chain_hash"]):
            return "the chain hash does not follow from the previous link"
        return None

    def finish(self) -> Verification:
        """The result once every link held. Only a run from the chain's start saw every
        link of an archived month, so only it can check that their number is exact."""
        for archive in self.archives if self.after == 0 else []:
            extra = next(archive.lines, None) if archive.lines is not None else None
            if archive.seen != archive.expected or extra is not None:
                return self._result(
                    ok=False,
                    entries=self.count,
                    problem=f"{archive.name} archived {archive.expected} entries but the "
                    f"chain has {archive.seen} of them"
                    + (" and its file has more lines" if extra is not None else ""),
                )
        return self._result(ok=True, entries=self.count)


async def verify_chain(
    session: AsyncSession,
    *,
    after: int = 0,
    head: bytes = GENESIS,
    chunk: int = 5000,
    progress: Any = None,
    archive_files: dict[str, Iterator[dict[str, Any]]] | None = None,
) -> Verification:
    """Recompute every link after position `after` (whose chain hash is `head`) in constant
    memory, hashing off the event loop; report the first entry that does not match.

    Entries of archived months (audit_archive) are absent from the database: their links
    are still checked, exactly `entry_count` of them must fall in each archived month, and
    with `archive_files` (file SHA-256 -> its lines) each is checked against its leaf hash.
    """
    archives = [
        _Archive(r.partition_name, r.range_start, r.range_end, r.entry_count, r.file_sha256)
        for r in await session.execute(
            text(
                "SELECT partition_name, range_start, range_end, entry_count, file_sha256 "
                "FROM audit_archive ORDER BY range_start"
            )
        )
    ]
    for archive in archives:
        lines = (archive_files or {}).get(archive.sha256)
        if lines is not None and after:
            lines = itertools.dropwhile(
                lambda line: ((line.get("chain") or {}).get("position") or 0) <= after, lines
            )
        archive.lines = lines
    state = _ChainCheck(archives, after=after, head=head, progress=progress)
    async for rows in _stream(session, chunk, after):
        broken = await asyncio.to_thread(state.check, rows)
        if broken is not None:
            return broken
    return await asyncio.to_thread(state.finish)
