-- fb_problem: an RFC 9457 problem document built in SQL.
--
-- Called by the submission functions (app/flags/sql/submit.sql), fb_no_such_platform and
-- fb_idempotency_check, which answer client errors as data instead of raising, so that a
-- submission stays one statement and one round trip. The same shape as
-- app/errors.py::AppError.to_problem.

CREATE OR REPLACE FUNCTION fb_problem(p_status int, p_slug text, p_title text,
                                      p_detail text, p_extra jsonb DEFAULT '{}'::jsonb)
RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object('type', 'urn:flagbridge:problem:' || p_slug, 'title', p_title,
                              'status', p_status, 'detail', p_detail) || p_extra
$$;
