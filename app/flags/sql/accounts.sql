-- fb_resolve_account: find or create the account a flag or hold is about.
--
-- Called by fb_submit_flag and by app/holds/repository.py (creating a hold). In SQL so that
-- a submission resolves its account in the same statement that inserts the flag.

-- Find or create the account a flag or hold is about. Lookup order: the platform's stable
-- id, then the normalised handle, then the normalised URL. Raises unique_violation when it
-- loses a race to create the same account; callers retry.
CREATE OR REPLACE FUNCTION fb_resolve_account(p_platform text, p_account jsonb) RETURNS account
LANGUAGE plpgsql AS $$
DECLARE
    v_row account;
    v_ext text := p_account->>'id';
    v_handle text := p_account->>'handle';
    v_url text := p_account->>'url';
BEGIN
    IF v_ext IS NOT NULL THEN
        SELECT * INTO v_row FROM account WHERE platform = p_platform AND external_id = v_ext;
    END IF;
    IF v_row.id IS NULL AND v_handle IS NOT NULL THEN
        SELECT * INTO v_row FROM account WHERE platform = p_platform AND handle = v_handle;
    END IF;
    IF v_row.id IS NULL AND v_url IS NOT NULL THEN
        SELECT * INTO v_row FROM account WHERE platform = p_platform AND url = v_url;
    END IF;
    IF v_row.id IS NOT NULL THEN
        RETURN v_row;
    END IF;
    -- A plain insert (speculative ON CONFLICT insertion costs more on every call): if a
    -- concurrent transaction inserts the same account first, this raises unique_violation
    -- and the caller retries the whole statement, which then finds the committed row.
    INSERT INTO account (platform, external_id, handle, url)
    VALUES (p_platform, v_ext, v_handle, v_url)
    RETURNING * INTO v_row;
    RETURN v_row;
END
$$;
