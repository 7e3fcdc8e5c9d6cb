-- The webhook outbox: every feed event of an organisation with an active webhook gets a
-- delivery row in the transaction that writes the event. Every path that writes feed
-- events (the submission statement, Python transitions, holds) passes through here, so a
-- rolled-back change is never announced and a committed one is never lost.
-- Statement-level with a transition table: a 1000-flag batch costs one INSERT ... SELECT.
CREATE OR REPLACE FUNCTION fb_webhook_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Most statements (every submission) come while no organisation has an active webhook,
    -- or none of the event's recipients has one: a look at the small webhook table first
    -- costs less than joining the transition table (measured: benchmarks/README.md).
    IF NOT EXISTS (SELECT 1 FROM webhook WHERE status = 'active') THEN
        RETURN NULL;
    END IF;
    INSERT INTO webhook_delivery (org_id, event_id, txid, subject_id)
    SELECT e.recipient_org_id, e.id, e.txid, coalesce(e.flag_id, e.hold_id)
    FROM new_events e
    JOIN webhook w ON w.org_id = e.recipient_org_id AND w.status = 'active';
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER feed_event_webhook_outbox
    AFTER INSERT ON feed_event
    REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION fb_webhook_outbox();
