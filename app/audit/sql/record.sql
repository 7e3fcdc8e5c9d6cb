-- fb_audit_record: append one entry to the audit log.
--
-- The writer of single audit rows: fb_submit_flag calls it inside the submission
-- statement, and app/audit/service.py::record (every other audited change) calls it with
-- the request's id and client IP. In SQL so that the submission hot path writes its audit
-- entry without a round trip of its own. The row itself (and the hashing of free text) is
-- built by fb_audit_record_many (record_many.sql), so single and set-wise writers build it
-- the same way.
--
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
    SELECT fb_audit_record_many(jsonb_build_array(jsonb_build_object(
        'actor_client', p_actor_client, 'actor_org', p_actor_org, 'actor_label', p_actor_label,
        'client_ip', p_client_ip, 'request_id', p_request_id, 'action', p_action,
        'object_type', p_object_type, 'object_id', p_object_id, 'data', p_data,
        'free_text', p_free_text)))
$$;
