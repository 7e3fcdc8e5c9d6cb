-- fb_audit_record_many: append audit entries as one set, and the one rule that builds a row.
--
-- fb_audit_record (record.sql) calls it with one entry, so a row is built in this one place
-- whichever path writes it: the submission statement, app/audit/service.py::record, and the
-- set-wise writers (a feed page's first deliveries, a batch of platform answers), which
-- pass a whole set in one round trip.
--
-- p_entries is a JSON array of objects with the keys actor_client, actor_org, actor_label,
-- client_ip, request_id, action, object_type, object_id, data and free_text (a missing key
-- is null). Rows are inserted in array order, so their seq follows it.
--
-- Free text (a summary, a question, a reason) is never stored in the log, only its SHA-256:
-- retention purges then never have to touch the append-only log. free_text maps a name to
-- its text; each becomes `<name>_sha256` in data (hex, or null for a null text).
CREATE OR REPLACE FUNCTION fb_audit_record_many(p_entries jsonb) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO audit_entry (actor_client_id, actor_org_id, actor_label, client_ip, request_id,
                             action, object_type, object_id, data)
    SELECT (x.e->>'actor_client')::uuid, (x.e->>'actor_org')::uuid, x.e->>'actor_label',
           x.e->>'client_ip', x.e->>'request_id', x.e->>'action', x.e->>'object_type',
           x.e->>'object_id',
           nullif(x.e->'data', 'null'::jsonb) || coalesce((
               SELECT jsonb_object_agg(t.key || '_sha256', fb_audit_digest(t.value))
               FROM jsonb_each_text(coalesce(nullif(x.e->'free_text', 'null'::jsonb),
                                             '{}'::jsonb)) AS t), '{}'::jsonb)
    FROM jsonb_array_elements(p_entries) WITH ORDINALITY AS x(e, n)
    ORDER BY x.n
$$;
