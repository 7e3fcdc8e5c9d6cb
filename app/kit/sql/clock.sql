-- fb_ts: the one timestamp format, in SQL.
--
-- Called by every SQL function that renders a time into JSON (fb_flag_doc, fb_hold_json,
-- the feed's reads, fb_submit_flag's audit entry). It is the SQL twin of
-- app/kit/clock.py::rfc3339 (a test compares the two): rendering happens inside
-- PostgreSQL so that a flag is built as JSON in the same statement that reads it.
-- STABLE, as to_char is: declared IMMUTABLE it could never be inlined (PostgreSQL inlines
-- a SQL function only if its body is no more volatile than declared), and a flag's
-- document calls it seven times. Its result does not depend on the session (the zone is
-- explicit and the format has no locale-dependent fields).

CREATE OR REPLACE FUNCTION fb_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

