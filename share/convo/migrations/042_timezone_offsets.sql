-- Profile time zones written as UTC offsets count as unknown.
--
-- PostgreSQL reads a time zone name such as '+05:00', '5', 'UTC+5' or
-- 'GMT+5' as a POSIX time zone, whose offsets are positive west of
-- Greenwich, so 'UTC+5' is five hours behind UTC. A profile that meant
-- Pakistan time got quiet hours ten hours off. convo-ingest now rejects
-- such profile time zones; for those stored before, zone_or_null returns
-- NULL, so convo-send and convo-mark fall back to the area code or, for
-- quiet hours, to every time zone of the account, as for a missing zone.
-- The rule matches timezone_sign_inverted() in lib/timeutil.c: a digit
-- or a character outside ASCII, except in the IANA names Etc/GMT+N,
-- which keep their documented meaning, and EST5EDT, CST6CDT, MST7MDT and
-- PST8PDT.

CREATE OR REPLACE FUNCTION convo.zone_or_null(p_zone text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_zone IS NULL OR p_zone = '' THEN
        RETURN NULL;
    END IF;
    -- IANA names are ASCII, and their only digits are those of
    -- Etc/GMT+N and four US zones.
    IF octet_length(p_zone) <> char_length(p_zone)
        OR (p_zone ~ '[0-9]' AND p_zone !~* '^etc/'
            AND upper(p_zone) NOT IN ('EST5EDT', 'CST6CDT', 'MST7MDT',
                'PST8PDT')) THEN
        RETURN NULL;
    END IF;
    PERFORM now() AT TIME ZONE p_zone;
    RETURN p_zone;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN NULL;
END;
$$;
