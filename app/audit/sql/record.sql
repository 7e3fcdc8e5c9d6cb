-- fb_audit_record: append one entry to the audit log.
--
-- The only writer of audit_entry rows: fb_submit_flag calls it inside the submission
-- statement, and app/audit/service.py::record (every other audited change) calls it with
-- the request's id and client IP. In SQL so that the submission hot path writes its audit
-- entry without a round trip of its own, and so that both paths build the row the same way.
--
-- Free text (a summary, a question, a reason) is never stored in the log, only its SHA-256:
-- retention purges then never have to touch the append-only log. p_free_text maps a name
-- to its text; each becomes `<name>_sha256` in data (hex, or null for a null text).
-- fb_audit_digest is that hash, the one place it is computed: the submission path
-- (fb_insert_flags in app/flags/sql/submit.sql, a set of entries in one INSERT) puts
-- `<name>_sha256` keys built with it straight into its data, skipping the jsonb detour.

-- The hex SHA-256 of a free text as the log keeps it (NULL for NULL). Inlined by callers.
CREATE OR REPLACE FUNCTION fb_audit_digest(p_text text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(sha256(convert_to(p_text, 'UTF8')), 'hex')
$$;

CREATE OR REPLACE FUNCTION fb_audit_record(p_actor_client uuid, p_actor_org uuid,
                                           p_actor_label text, p_client_ip text,
                                           p_request_id text, p_action text,
                                           p_object_type text, p_object_id text,
                                           p_data jsonb,
                                           p_free_text jsonb DEFAULT '{}'::jsonb)
RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_entry (actor_client_id, actor_org_id, actor_label, client_ip, request_id,
                             action, object_type, object_id, data)
    VALUES (p_actor_client, p_actor_org, p_actor_label, p_client_ip, p_request_id, p_action,
            p_object_type, p_object_id,
            p_data || coalesce((
                SELECT jsonb_object_agg(t.key || '_sha256', fb_audit_digest(t.value))
                FROM jsonb_each_text(p_free_text) AS t), '{}'::jsonb))
$$;
