-- fb_ts: the one timestamp format, in SQL.
--
-- Called by every SQL function that renders a time into JSON (fb_flag_doc, fb_hold_json,
-- the feed's reads, fb_submit_flag's audit entry). It is the SQL twin of
-- app/kit/clock.py::rfc3339 (a test compares the two): rendering happens inside
-- PostgreSQL so that a flag is built as JSON in the same statement that reads it.

CREATE OR REPLACE FUNCTION fb_ts(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
$$;

