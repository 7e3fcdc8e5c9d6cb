-- fb_platform_org, fb_no_such_platform: which organisation a platform slug names, and the
-- 422 to answer when none does.
--
-- Called by fb_submit_flag (flags, single and batch) and app/holds/repository.py (holds):
-- the one place that decides "no platform is registered as ...", in SQL because submission
-- checks it inside its one statement.

-- The registered platform organisation for a slug, or NULL.
CREATE OR REPLACE FUNCTION fb_platform_org(p_platform text) RETURNS uuid
LANGUAGE sql STABLE AS $$
    SELECT id FROM organization WHERE kind = 'platform' AND platform = p_platform
$$;

-- The problem document for a platform slug nobody registered (a 422 naming the field).
CREATE OR REPLACE FUNCTION fb_no_such_platform(p_platform text) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
    SELECT fb_problem(422, 'validation', 'Unprocessable Content', 'Invalid input: platform',
        jsonb_build_object('errors', jsonb_build_array(jsonb_build_object(
            'field', 'platform', 'message', 'no platform is registered as ' || p_platform))))
$$;

-- The identity profile (app/identity/profiles.py) a platform's identifiers follow, or NULL
-- for a slug nobody registered. Submission compares it with the profile the caller's keys
-- were computed with.
CREATE OR REPLACE FUNCTION fb_platform_identity_profile(p_platform text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT identity_profile FROM organization WHERE kind = 'platform' AND platform = p_platform
$$;
