-- fb_flag_doc, fb_flag_platform_view, fb_flag_docs, fb_flag_json,
-- fb_flag_json_for_platform: the one JSON shape of a flag.
--
-- Called by every read of a flag (app/flags/repository.py one at a time; the feeds and
-- the answers as sets, through fb_flag_docs) and by fb_insert_flags for its 201 bodies.
-- In SQL so that a page of flags is rendered by the statement that selects it (no
-- per-flag round trips), and every route shows a flag the same way.

-- The contest round of a flag (app/flags/contest.py): null if it was never contested.
-- The first outcome is the flag's own outcome columns, the reconsidered one is beside it.
CREATE OR REPLACE FUNCTION fb_flag_contest(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_flag.contested_at IS NULL THEN NULL ELSE jsonb_build_object(
        'contested_at', fb_ts(p_flag.contested_at),
        'reason', p_flag.contest_reason,
        'evidence', coalesce(p_flag.contest_evidence, '[]'),
        'first_outcome', jsonb_build_object(
            'action', p_flag.outcome_action, 'note', p_flag.outcome_note,
            'actioned_at', fb_ts(p_flag.actioned_at), 'decided_at', fb_ts(p_flag.closed_at)),
        'reconsidered_outcome', CASE WHEN p_flag.reconsidered_action IS NULL THEN NULL
            ELSE jsonb_build_object(
                'action', p_flag.reconsidered_action, 'note', p_flag.reconsidered_note,
                'actioned_at', fb_ts(p_flag.reconsidered_actioned_at),
                'decided_at', fb_ts(p_flag.reconsidered_at)) END,
        'overturned', p_flag.overturned) END
$$;

-- The one JSON shape of a flag: a new key goes here, as an expression or a STABLE function
-- of the row (fb_flag_contest, fb_statement_doc), never VOLATILE. Callers that already
-- hold the agency name and corroborations (submission, fb_flag_docs) pass them in.
-- The account is the flag's own account_ref: the identifiers its agency sent, never the
-- shared account's (which may hold what other agencies or the platform said).
-- STABLE, not IMMUTABLE, and so is fb_ts: jsonb_build_object and to_char are STABLE, and
-- PostgreSQL inlines a SQL function only if its body is no more volatile than declared.
-- Inlined, a flag costs one expression instead of eight function calls (measured in
-- benchmarks/README.md, "Feed pages and answers"); keep it one SELECT without FROM or
-- sub-selects, or it stops being inlined.
CREATE OR REPLACE FUNCTION fb_flag_doc(p_flag flag, p_agency_name text,
                                       p_corroborations jsonb) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', p_flag.id,
        'status', p_flag.status,
        'kind', p_flag.kind,
        'category', p_flag.category,
        'priority', p_flag.priority,
        'platform', p_flag.platform,
        'account', p_flag.account_ref,
        'country', p_flag.country,
        'agency', jsonb_build_object('id', p_flag.agency_org_id, 'name', p_agency_name),
        'legal_basis', p_flag.legal_basis,
        'summary', p_flag.summary,
        'evidence', p_flag.evidence,
        'external_ref', p_flag.external_ref,
        'submitted_at', fb_ts(p_flag.submitted_at),
        'due_at', fb_ts(p_flag.due_at),
        'delivered_at', fb_ts(p_flag.delivered_at),
        'acknowledged_at', fb_ts(p_flag.acknowledged_at),
        'closed_at', fb_ts(p_flag.closed_at),
        'withdrawn_at', fb_ts(p_flag.withdrawn_at),
        'withdraw_reason', p_flag.withdraw_reason,
        'outcome', CASE WHEN p_flag.outcome_action IS NULL THEN NULL ELSE jsonb_build_object(
            'action', p_flag.outcome_action, 'note', p_flag.outcome_note,
            'actioned_at', fb_ts(p_flag.actioned_at)) END,
        'corroborations', p_corroborations,
        -- Only a flag with an outcome has a statement: the others skip the call.
        'statement', CASE WHEN p_flag.outcome_action IS NULL THEN NULL
                          ELSE fb_statement_doc(p_flag) END,
        'contest', fb_flag_contest(p_flag))
$$;

-- What a platform sees differently, as keys that replace the document's: a flag reached
-- the platform when it opened, so that is its submission time there (a held flag's real
-- submission time would reveal the hold). Empty for most flags (opened on submission).
CREATE OR REPLACE FUNCTION fb_flag_platform_view(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN p_flag.opened_at IS DISTINCT FROM p_flag.submitted_at
                     AND p_flag.opened_at IS NOT NULL
                THEN jsonb_build_object('submitted_at', fb_ts(p_flag.opened_at))
                ELSE '{}'::jsonb END
$$;

-- Stored flags as JSON, by id, as one set (a feed page, a batch's answers): agency names
-- by one join and corroborations by one grouped query, each document one inlined
-- expression. With p_platform_view, as their platform sees them.
CREATE OR REPLACE FUNCTION fb_flag_docs(p_ids uuid[], p_platform_view boolean)
RETURNS TABLE (id uuid, doc jsonb)
LANGUAGE sql STABLE ROWS 500 AS $$
    SELECT f.id, CASE WHEN p_platform_view
                      THEN fb_flag_doc(f, o.name, c.corroborations) || fb_flag_platform_view(f)
                      ELSE fb_flag_doc(f, o.name, c.corroborations) END
    FROM flag f
    JOIN organization o ON o.id = f.agency_org_id
    JOIN fb_corroborations_of(ARRAY(SELECT g FROM flag g WHERE g.id = ANY(p_ids))) AS c
      ON c.id = f.id
    WHERE f.id = ANY(p_ids)
$$;

-- One flag as JSON (a read of one flag, lists), the row as given.
CREATE OR REPLACE FUNCTION fb_flag_json(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT fb_flag_doc(p_flag, o.name, fb_corroborations(p_flag))
    FROM organization o
    WHERE o.id = p_flag.agency_org_id
$$;

-- One flag as its platform sees it.
CREATE OR REPLACE FUNCTION fb_flag_json_for_platform(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT fb_flag_json(p_flag) || fb_flag_platform_view(p_flag)
$$;
