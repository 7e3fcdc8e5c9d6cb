-- fb_flag_doc, fb_flag_json, fb_flag_json_for_platform: the one JSON shape of a flag.
--
-- Called by every read of a flag (app/flags/repository.py, the feeds, the responses
-- batches) and by fb_submit_flag for its 201 body. In SQL so that a page of flags is
-- rendered by the statement that selects it (no per-flag round trips), and every route
-- shows a flag the same way.

-- The contest round of a flag (app/flags/contest.py): null if it was never contested.
-- The first outcome is the flag's own outcome columns, the reconsidered one is beside it.
CREATE OR REPLACE FUNCTION fb_flag_contest(p_flag flag) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
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

-- The one JSON shape of a flag. A pure expression, so PostgreSQL inlines it; callers
-- that already hold the agency name (submission) pass it in, the others use fb_flag_json
-- below. The account is the flag's own account_ref: the identifiers its agency sent, never
-- the shared account's (which may hold what other agencies or the platform said).
CREATE OR REPLACE FUNCTION fb_flag_doc(p_flag flag, p_agency_name text,
                                       p_corroborations jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
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
        'contest', fb_flag_contest(p_flag))
$$;

-- A flag as a platform sees it: it reached the platform when it opened, so that is its
-- submission time there (a held flag's real submission time would reveal the hold).
CREATE OR REPLACE FUNCTION fb_flag_json_for_platform(p_flag flag) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
    p_flag.submitted_at := coalesce(p_flag.opened_at, p_flag.submitted_at);
    RETURN fb_flag_json(p_flag);
END
$$;

-- A stored flag as JSON, used by every read.
CREATE OR REPLACE FUNCTION fb_flag_json(p_flag flag) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT fb_flag_doc(p_flag, o.name, fb_corroborations(p_flag))
    FROM organization o
    WHERE o.id = p_flag.agency_org_id
$$;
