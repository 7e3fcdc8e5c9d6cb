"""Monthly partitions of the audit log: making them ahead of time, and archiving old months.

audit_entry is partitioned by month of `at` (UTC). Partitions are created ahead by
`fb_audit_ensure_partitions` (SQL, see the 0006 migration), which needs the table owner:
`flagbridge migrate` and `flagbridge audit partitions --ensure` run it as the owner, and
every server process tries it daily (harmless if another did, skipped with a log line when
the service runs as a role without the privilege). Entries for a month without a partition
land in the default partition, so a forgotten job never makes a write fail.

Archiving a month writes its entries, in chain order with their hashes, to a JSON-lines
file, then (one transaction) records the file's SHA-256 and entry count in audit_archive,
writes an audit entry about it, and detaches the partition. The chain (audit_seal) keeps
every link, so `verify` still checks the whole chain, accepts exactly that many entries of
that month as archived, and with `--archive FILE` checks the file's entries against it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from jose import jws
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.audit import sealing
from app.audit import service as audit
from app.auth.keys import ALGORITHM, KeyRing
from app.errors import Conflict, NotFound
from app.kit.clock import rfc3339
from app.migrations import RESTRICT_SERVICE_ROLE_SQL

log = logging.getLogger(__name__)

MONTHS_AHEAD = 3
# An archived month must have ended this long ago, so no transaction can still be writing
# into it (a transaction that started on its last second commits well within this).
ARCHIVE_GRACE = timedelta(hours=1)
_MONTH = re.compile(r"^audit_entry_y(\d{4})m(\d{2})$")
ARCHIVE_TYPE = "fb-audit-archive+jws"


def archive_statement(row: dict[str, Any]) -> dict[str, Any]:
    """What an archive record vouches for (signed, and re-derived from the row to check)."""
    return {
        "partition": row["partition_name"],
        "range_start": rfc3339(row["range_start"]),
        "range_end": rfc3339(row["range_end"]),
        "entry_count": row["entry_count"],
        "first_position": row["first_position"],
        "last_position": row["last_position"],
        "file_sha256": row["file_sha256"],
    }


def sign_archive(ring: KeyRing, row: dict[str, Any]) -> str:
    """Compact JWS over an archive record's statement, with the service key."""
    return str(
        jws.sign(
            archive_statement(row),
            ring.signing_key,
            headers={"kid": ring.signing_kid, "typ": ARCHIVE_TYPE},
            algorithm=ALGORITHM,
        )
    )


async def check_archives(session: AsyncSession, ring: KeyRing) -> dict[str, Any] | None:
    """The first archive record whose signature does not vouch for it (None if all do).

    Without this, someone who can write to the database could lower a month's recorded
    entry count and delete that many entries, and the chain would still verify."""
    rows = (
        (
            await session.execute(
                text(
                    "SELECT partition_name, range_start, range_end, entry_count, "
                    "first_position, last_position, file_sha256, kid, signature "
                    "FROM audit_archive ORDER BY id"
                )
            )
        )
        .mappings()
        .all()
    )
    for row in rows:
        key = ring.historic_verifier(row["kid"])
        problem = None
        if key is None:
            problem = "signed by a key that is not in the key history"
        else:
            try:
                signed = json.loads(jws.verify(row["signature"], key, algorithms=[ALGORITHM]))
            except Exception:
                problem = "signature does not verify"
            else:
                if signed != archive_statement(dict(row)):
                    problem = "signed statement differs from the archive record"
        if problem:
            return {"archive": row["partition_name"], "problem": f"archive record: {problem}"}
    return None


def partition_name(month: date) -> str:
    """The partition that holds a month's entries."""
    return f"audit_entry_y{month.year:04d}m{month.month:02d}"


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a UTC month."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


async def ensure_partitions(session: AsyncSession, *, months_ahead: int = MONTHS_AHEAD) -> int:
    """Create the partitions from this month to `months_ahead` months on; returns how many."""
    today = datetime.now(UTC).date()
    last = today + timedelta(days=31 * months_ahead)
    created = int(
        (
            await session.execute(
                text(
                    "SELECT fb_audit_ensure_partitions(CAST(:first AS date), CAST(:last AS date))"
                ),
                {"first": today, "last": last},
            )
        ).scalar_one()
    )
    if created:
        # New partitions got the owner's default grants (deploy/roles.sql): take UPDATE,
        # DELETE and TRUNCATE back from the service's role, as every migration does.
        await session.execute(text(RESTRICT_SERVICE_ROLE_SQL))
    return created


async def ensure_partitions_if_allowed(
    sessionmaker: async_sessionmaker[AsyncSession], *, months_ahead: int = MONTHS_AHEAD
) -> int | None:
    """ensure_partitions in its own transaction; None when this role may not create them."""
    try:
        async with sessionmaker() as session, session.begin():
            return await ensure_partitions(session, months_ahead=months_ahead)
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) == "42501":  # insufficient_privilege
            log.info("audit partitions not ensured: this role does not own audit_entry")
            return None
        raise


async def list_partitions(session: AsyncSession) -> list[dict[str, Any]]:
    """Attached partitions (with estimated rows) and archived months, oldest first."""
    rows = await session.execute(
        text(
            "SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound, "
            "GREATEST(c.reltuples, 0)::bigint AS estimated_rows, "
            "pg_total_relation_size(c.oid) AS bytes "
            "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit_entry'::regclass ORDER BY c.relname"
        )
    )
    out: list[dict[str, Any]] = [
        {
            "name": r.name,
            "month": _month_of(r.name),
            "state": "attached",
            "bound": r.bound,
            "estimated_rows": r.estimated_rows,
            "bytes": r.bytes,
        }
        for r in rows
    ]
    archived = await session.execute(
        text(
            "SELECT partition_name, range_start, entry_count, file_sha256, archived_at, "
            "to_regclass(partition_name) IS NOT NULL AS still_in_database "
            "FROM audit_archive ORDER BY range_start"
        )
    )
    for r in archived:
        out.append(
            {
                "name": r.partition_name,
                "month": _month_of(r.partition_name),
                "state": "archived",
                "entries": r.entry_count,
                "file_sha256": r.file_sha256,
                "archived_at": r.archived_at.isoformat(),
                "detached_table_kept": r.still_in_database,
            }
        )
    out.sort(key=lambda p: (p["month"] or "9999-99", p["name"]))
    return out


def _month_of(name: str) -> str | None:
    m = _MONTH.match(name)
    return f"{m.group(1)}-{m.group(2)}" if m else None


async def archive_month(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    month: date,
    out: Path,
    actor_label: str,
    ring: KeyRing,
    drop: bool = False,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Write a past month's entries to `out`, record the archive and detach the partition."""
    name = partition_name(month)
    start, end = month_bounds(month)
    if end + ARCHIVE_GRACE > (now or datetime.now(UTC)):
        raise Conflict(f"{month:%Y-%m} has not ended (or ended less than an hour ago)")
    await sealing.seal_pending(sessionmaker)
    written: list[Path] = []
    try:
        async with sessionmaker() as session, session.begin():
            attached = (
                await session.execute(
                    text(
                        "SELECT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = "
                        "'audit_entry'::regclass AND inhrelid = to_regclass(:n))"
                    ),
                    {"n": name},
                )
            ).scalar_one()
            if not attached:
                raise NotFound(f"No attached audit partition {name}")
            # Nothing may be added to the month while it is copied (nothing should be: it is over).
            await session.execute(text(f'LOCK TABLE "{name}" IN SHARE MODE'))
            unsealed = (
                await session.execute(
                    text(
                        f'SELECT count(*) FROM "{name}" e WHERE NOT EXISTS '  # noqa: S608
                        "(SELECT 1 FROM audit_seal s WHERE s.entry_seq = e.seq)"
                    )
                )
            ).scalar_one()
            if unsealed:
                raise Conflict(
                    f"{unsealed} entries of {month:%Y-%m} are not sealed yet; retry later"
                )
            digest, count, first, last = await _write_file(session, name, out, progress)
            written.append(out)
            record = {
                "partition_name": name,
                "range_start": start,
                "range_end": end,
                "entry_count": count,
                "first_position": first,
                "last_position": last,
                "file_sha256": digest,
            }
            await session.execute(
                text(
                    "INSERT INTO audit_archive (partition_name, range_start, range_end, "
                    "entry_count, first_position, last_position, file_sha256, archived_by, "
                    "kid, signature) "
                    "VALUES (:partition_name, :range_start, :range_end, :entry_count, "
                    ":first_position, :last_position, :file_sha256, :by, :kid, :signature)"
                ),
                {
                    **record,
                    "by": actor_label,
                    "kid": ring.signing_kid,
                    "signature": sign_archive(ring, record),
                },
            )
            summary = {
                "partition": name,
                "month": f"{month:%Y-%m}",
                "entries": count,
                "first_position": first,
                "last_position": last,
                "file": str(out),
                "file_sha256": digest,
                "dropped": drop,
            }
            await audit.record(
                session=session,
                actor=None,
                actor_label=actor_label,
                action="audit.partition_archived",
                object_type="audit_partition",
                object_id=name,
                data={k: v for k, v in summary.items() if k != "file"},
            )
            # Detaching locks the parent briefly; do not queue every writer behind a long one.
            await session.execute(text("SET LOCAL lock_timeout = '10s'"))
            try:
                await session.execute(text(f'ALTER TABLE audit_entry DETACH PARTITION "{name}"'))
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) != "55P03":  # lock_not_available
                    raise
                raise Conflict(
                    "Could not detach the partition within 10 s: a long transaction is using "
                    "the audit log. Nothing was archived; retry when it has finished."
                ) from None
            if drop:
                await session.execute(text(f'DROP TABLE "{name}"'))
    except BaseException:
        # Nothing was recorded or detached: do not leave a file that would make the
        # retry refuse ("exists") or pass for an archive.
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return summary


async def _write_file(
    session: AsyncSession, name: str, out: Path, progress: Callable[[int], None] | None
) -> tuple[str, int, int | None, int | None]:
    """Entries of one partition in chain order, as `audit export` writes them; fsynced."""
    digest = hashlib.sha256()
    count, after = 0, 0
    first: int | None = None
    tmp = out.with_name(out.name + ".partial")
    with tmp.open("wb") as fh:
        while True:
            rows = (
                (
                    await session.execute(
                        text(
                            f"SELECT {sealing.ENTRY_COLUMNS}, s.position, s.entry_hash, "  # noqa: S608
                            f's.chain_hash FROM "{name}" e '
                            "JOIN audit_seal s ON s.entry_seq = e.seq "
                            "WHERE s.position > :after ORDER BY s.position LIMIT 5000"
                        ),
                        {"after": after},
                    )
                )
                .mappings()
                .all()
            )
            if not rows:
                break
            for row in rows:
                line = (json.dumps(sealing.exported(dict(row)), sort_keys=True) + "\n").encode()
                fh.write(line)
                digest.update(line)
                count += 1
                first = first if first is not None else row["position"]
            after = rows[-1]["position"]
            if progress is not None:
                progress(count)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(out)
    return digest.hexdigest(), count, first, (after or None)
