-- fb_statement_doc: the JSON of a flag's statement of reasons (app/flags/statement_schemas.py
-- StatementOut; which DSA Transparency Database field each key maps to is said there).
--
-- Called by fb_flag_doc (app/flags/sql/render.sql), so a flag shows its statement on every
-- read and in the feed, and by GET /v1/flags/{id}/statement (app/flags/statement_repository.py).
-- The latest decision's statement is shown (2, a reconsidered outcome, over 1). A flag
-- without an outcome has none, and is answered without looking.
CREATE OR REPLACE FUNCTION fb_statement_doc(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_flag.outcome_action IS NOT NULL THEN (
        SELECT jsonb_build_object(
            'decision', s.decision,
            'action', s.action,
            'ground', s.ground,
            'legal_provision', s.legal_provision,
            'terms_clause', s.terms_clause,
            'explanation', s.explanation,
            'automated_detection', s.automated_detection,
            'automated_decision', s.automated_decision,
            'territorial_scope', CASE WHEN s.territorial_scope IS NULL
                THEN jsonb_build_object('type', 'global')
                ELSE jsonb_build_object('type', 'countries',
                                        'countries', to_jsonb(s.territorial_scope)) END,
            'created_at', fb_ts(s.created_at))
        FROM outcome_statement s
        WHERE s.flag_id = p_flag.id
        ORDER BY s.decision DESC
        LIMIT 1) END
$$;
