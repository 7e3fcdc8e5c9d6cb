-- fb_due_at: a flag's response deadline from the deadline_policy table.
--
-- The only place the policy is looked up: fb_submit_flag (a flag that opens at submission)
-- and app/flags/repository.py::due_at_from_now (a held flag that opens when its hold ends).
-- In SQL so that submission computes it inside its one statement.

CREATE OR REPLACE FUNCTION fb_due_at(p_country text, p_kind text, p_priority text,
                                     p_from timestamptz)
RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT p_from + make_interval(secs => seconds)
    FROM deadline_policy
    WHERE kind = p_kind AND priority = p_priority AND country IN (p_country, '*')
    ORDER BY country = '*'
    LIMIT 1
$$;
