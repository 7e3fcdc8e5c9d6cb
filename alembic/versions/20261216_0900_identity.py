"""Account identity: platform identity profiles, canonical account keys, per-flag identifiers.

- `organization.identity_profile`: which built-in profile (app/identity/profiles.py) a
  platform's identifiers follow; the one named like its slug, else `generic`.
- `account_key (platform, key) -> account_id`: every canonical key of an account; accounts
  are found by any of them (fb_resolve_account).
- `flag.account_ref`, `hold.account_ref`: the identifiers the flag's (hold's) own agency
  sent, in canonical form; what is shown, instead of the shared account row.
- `account_conflict`: what this migration (and later merges) could not decide.

Existing accounts are canonicalised with their platform's profile. Accounts that now share
a key are merged, unless merging would join two different ids or two live flags of one
agency: those are written to `account_conflict` (each key stays with the oldest account)
instead of guessed. The old `account.external_id/handle/url` columns stay as they were
first recorded; nothing reads them any more.

Revision ID: 0011_identity
Revises: 0010_webhooks
Create Date: 2026-12-02 09:00:00
"""

import json
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text

from alembic import op
from app.identity.canonical import IdentityError, canonicalise_account
from app.identity.profiles import PROFILES, default_profile_name
from app.migrations import execute_script

revision: str = "0011_identity"
down_revision: str | None = "0010_webhooks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")


def upgrade() -> None:
    """Add the columns and tables, drop the functions whose signature changes, backfill."""
    execute_script(
        """
        ALTER TABLE organization ADD COLUMN identity_profile text;
        -- Identifiers are account_key rows now; an account row alone names nothing.
        ALTER TABLE account DROP CONSTRAINT ck_account_identified;
        ALTER TABLE flag ADD COLUMN account_ref jsonb;
        ALTER TABLE hold ADD COLUMN account_ref jsonb;
        CREATE TABLE account_key (
            platform text NOT NULL,
            key text NOT NULL,
            account_id uuid NOT NULL,
            bound_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_account_key PRIMARY KEY (platform, key),
            CONSTRAINT fk_account_key_account_id_account FOREIGN KEY (account_id)
                REFERENCES account (id),
            CONSTRAINT ck_account_key_bound_by_known
                CHECK (bound_by IN ('agency', 'platform', 'migration'))
        );
        CREATE INDEX ix_account_key_account_id ON account_key (account_id);
        CREATE TABLE account_conflict (
            id bigserial CONSTRAINT pk_account_conflict PRIMARY KEY,
            platform text NOT NULL,
            account_ids uuid[] NOT NULL,
            keys text[] NOT NULL,
            reason text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        DROP FUNCTION IF EXISTS fb_resolve_account(text, jsonb);
        DROP FUNCTION IF EXISTS fb_flag_json(flag);
        DROP FUNCTION IF EXISTS fb_flag_json_for_platform(flag);
        DROP FUNCTION IF EXISTS fb_flag_doc(flag, account, text, jsonb);
        DROP FUNCTION IF EXISTS fb_submit_flag_requests(uuid[], uuid[], text[], text[], text[],
                                                        text, text[], text[], text[]);
        """
    )
    bind = op.get_bind()
    profiles = _fill_profiles(bind)
    _backfill_accounts(bind, profiles)
    execute_script(
        """
        ALTER TABLE organization ADD CONSTRAINT ck_organization_identity_profile_iff_platform
            CHECK ((kind = 'platform') = (identity_profile IS NOT NULL));
        ALTER TABLE flag ALTER COLUMN account_ref SET NOT NULL;
        ALTER TABLE hold ALTER COLUMN account_ref SET NOT NULL;
        """
    )


def _fill_profiles(bind: Any) -> dict[str, str]:
    rows = bind.execute(text("SELECT id, platform FROM organization WHERE kind = 'platform'"))
    profiles: dict[str, str] = {}
    for org_id, slug in rows.all():
        profiles[slug] = default_profile_name(slug)
        bind.execute(
            text("UPDATE organization SET identity_profile = :p WHERE id = :id"),
            {"p": profiles[slug], "id": org_id},
        )
    return profiles


class _Sets:
    """Union-find over account ids."""

    def __init__(self) -> None:
        self.parent: dict[Any, Any] = {}

    def find(self, x: Any) -> Any:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: Any, b: Any) -> None:
        self.parent[self.find(a)] = self.find(b)


def _backfill_accounts(bind: Any, profiles: dict[str, str]) -> None:
    accounts = bind.execute(
        text("SELECT id, platform, external_id, handle, url FROM account ORDER BY created_at, id")
    ).all()
    refs: dict[Any, dict[str, Any]] = {}
    keys_of: dict[Any, list[str]] = {}
    conflicts: list[tuple[str, list[Any], list[str], str]] = []
    for acc_id, platform, ext, handle, url in accounts:
        raw = {"id": ext, "handle": handle, "url": url}
        profile = profiles.get(platform, "generic")
        try:
            identity = canonicalise_account(profile if profile in PROFILES else None, raw)
        except IdentityError as exc:
            refs[acc_id] = raw
            keys_of[acc_id] = []
            conflicts.append((platform, [acc_id], [], f"not canonical: {exc}"))
            continue
        refs[acc_id] = identity.ref
        keys_of[acc_id] = identity.key_list()

    platform_of = {a[0]: a[1] for a in accounts}
    sets = _Sets()
    owner: dict[tuple[str, str], Any] = {}
    for acc_id, _p, *_ in accounts:
        sets.find(acc_id)
        for key in keys_of[acc_id]:
            first = owner.setdefault((platform_of[acc_id], key), acc_id)
            sets.union(acc_id, first)
    groups: dict[Any, list[Any]] = {}
    for acc_id, *_ in accounts:
        groups.setdefault(sets.find(acc_id), []).append(acc_id)

    live_agencies = {
        acc: set(agencies)
        for acc, agencies in bind.execute(
            text(
                "SELECT account_id, array_agg(agency_org_id) FROM flag "
                "WHERE status NOT IN ('closed', 'withdrawn') GROUP BY account_id"
            )
        ).all()
    }
    merged = 0
    for members in groups.values():
        survivor = members[0]  # the oldest (accounts were read in creation order)
        if len(members) > 1:
            why = _why_not_merge(members, keys_of, live_agencies)
            if why is None:
                for loser in members[1:]:
                    for table in ("flag", "hold"):
                        bind.execute(
                            text(
                                f"UPDATE {table} SET account_ref = CAST(:r AS jsonb), "
                                "account_id = :s WHERE account_id = :l AND account_ref IS NULL"
                            ),
                            {"r": json.dumps(refs[loser]), "s": survivor, "l": loser},
                        )
                merged += len(members) - 1
            else:
                all_keys = sorted({k for m in members for k in keys_of[m]})
                conflicts.append((platform_of[survivor], members, all_keys, why))
                survivor = None
        for member in members:
            for table in ("flag", "hold"):
                bind.execute(
                    text(
                        f"UPDATE {table} SET account_ref = CAST(:r AS jsonb) "
                        "WHERE account_id = :a AND account_ref IS NULL"
                    ),
                    {"r": json.dumps(refs[member]), "a": member},
                )
            for key in keys_of[member]:
                # A key shared by accounts that were not merged stays with the oldest.
                if owner[(platform_of[member], key)] == member:
                    bind.execute(
                        text(
                            "INSERT INTO account_key (platform, key, account_id, bound_by) "
                            "VALUES (:p, :k, :a, 'migration')"
                        ),
                        {"p": platform_of[member], "k": key, "a": survivor or member},
                    )
            if survivor is not None and member != survivor:
                bind.execute(text("DELETE FROM account WHERE id = :a"), {"a": member})
    for platform, ids, keys, reason in conflicts:
        bind.execute(
            text(
                "INSERT INTO account_conflict (platform, account_ids, keys, reason) "
                "VALUES (:p, CAST(:ids AS uuid[]), :k, :r)"
            ),
            {"p": platform, "ids": [str(i) for i in ids], "k": keys, "r": reason},
        )
    log.info(
        "identity: %d accounts, %d merged, %d conflicts written to account_conflict",
        len(accounts),
        merged,
        len(conflicts),
    )


def _why_not_merge(
    members: list[Any], keys_of: dict[Any, list[str]], live: dict[Any, set[Any]]
) -> str | None:
    ids = {k for m in members for k in keys_of[m] if k.startswith("id:")}
    if len(ids) > 1:
        return "accounts sharing a key have different ids"
    seen: set[Any] = set()
    for m in members:
        agencies = live.get(m, set())
        if seen & agencies:
            return "one agency has live flags on more than one of them"
        seen |= agencies
    return None


def downgrade() -> None:
    """Drop the identity tables and columns (merged accounts stay merged); the next upgrade
    re-applies the SQL definitions."""
    execute_script(
        """
        DROP FUNCTION IF EXISTS fb_resolve_account(text, jsonb);
        DROP FUNCTION IF EXISTS fb_flag_json(flag);
        DROP FUNCTION IF EXISTS fb_flag_json_for_platform(flag);
        DROP FUNCTION IF EXISTS fb_flag_doc(flag, text, jsonb);
        DROP FUNCTION IF EXISTS fb_account_conflict(jsonb);
        DROP FUNCTION IF EXISTS fb_platform_identity_profile(text);
        DROP FUNCTION IF EXISTS fb_submit_flag_requests(uuid[], uuid[], text[], text[], text[],
                                                        text, text[], text[], text[]);
        DROP TABLE account_conflict;
        DROP TABLE account_key;
        ALTER TABLE hold DROP COLUMN account_ref;
        ALTER TABLE flag DROP COLUMN account_ref;
        ALTER TABLE organization DROP COLUMN identity_profile;
        ALTER TABLE account ADD CONSTRAINT ck_account_identified
            CHECK (external_id IS NOT NULL OR handle IS NOT NULL OR url IS NOT NULL) NOT VALID;
        DELETE FROM sql_definitions;
        """
    )
