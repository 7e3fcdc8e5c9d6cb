-- fb_audit_ensure_partitions: audit_entry's monthly partitions (and its default one).
--
-- Called by the audit partitions migration (0006, to partition an existing log), by
-- app/audit/partitions.py (`flagbridge audit partitions --ensure` and the maintenance job)
-- and by whoever creates partitions ahead of time. In SQL because it creates tables and
-- triggers with dynamic names (EXECUTE format(...)), which needs the table owner: the
-- service's role calls it and is refused, with a message app/audit/partitions.py explains.

-- One partition per UTC month from p_first to p_last (inclusive, by month), each
-- with the TRUNCATE guard (statement triggers are not inherited by partitions;
-- row triggers are). A month whose entries already sit in the default partition is
-- skipped with a warning: creating it would fail, and the entries are safe where
-- they are. Returns how many partitions it created. Needs the table owner.
CREATE OR REPLACE FUNCTION fb_audit_ensure_partitions(p_first date, p_last date)
RETURNS integer LANGUAGE plpgsql AS $fn$
DECLARE
    m date := date_trunc('month', p_first)::date;
    lo text;
    hi text;
    part text;
    created integer := 0;
    stranded boolean;
BEGIN
    IF to_regclass('audit_entry_default') IS NULL THEN
        CREATE TABLE audit_entry_default PARTITION OF audit_entry DEFAULT;
        CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry_default
            FOR EACH STATEMENT EXECUTE FUNCTION fb_audit_is_append_only();
    END IF;
    WHILE m <= p_last LOOP
        part := format('audit_entry_y%sm%s', to_char(m, 'YYYY'), to_char(m, 'MM'));
        lo := to_char(m, 'YYYY-MM-DD') || ' 00:00:00+00';
        hi := to_char((m + interval '1 month')::date, 'YYYY-MM-DD') || ' 00:00:00+00';
        IF to_regclass(part) IS NULL THEN
            EXECUTE format(
                'SELECT EXISTS (SELECT 1 FROM audit_entry_default '
                'WHERE at >= %L AND at < %L)', lo, hi) INTO stranded;
            IF stranded THEN
                RAISE WARNING 'audit entries for % are in audit_entry_default; '
                    'not creating %', to_char(m, 'YYYY-MM'), part;
            ELSE
                EXECUTE format('CREATE TABLE %I PARTITION OF audit_entry '
                               'FOR VALUES FROM (%L) TO (%L)', part, lo, hi);
                EXECUTE format('CREATE TRIGGER audit_entry_no_truncate '
                               'BEFORE TRUNCATE ON %I FOR EACH STATEMENT '
                               'EXECUTE FUNCTION fb_audit_is_append_only()', part);
                created := created + 1;
            END IF;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$fn$;
