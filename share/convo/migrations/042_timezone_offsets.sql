-- Profile time zones written as UTC offsets count as unknown.
--
-- PostgreSQL reads a time zone name such as '+05:00', '5', 'UTC+5' or
-- 'GMT+5' as a POSIX time zone, whose offsets are positive west of
-- Greenwich, so 'UTC+5' is five hours behind UTC. A profile that meant
-- Pakistan time got quiet hours ten hours off. convo-ingest now rejects
-- such profile time zones; for those stored before, zone_or_null returns
-- NULL, so convo-send and convo-mark fall back to the area code or, for
-- quiet hours, to every time zone of the account, as for a missing zone.
-- The rule matches timezone_sign_inverted() in lib/timeutil.c: a sign
-- followed by a digit anywhere, or a digit at the start or after UTC,
-- GMT or UT. The IANA names Etc/GMT+N keep their documented meaning.

CREATE OR REPLACE FUNCTION convo.zone_or_null(p_zone text) RETURNS text
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF p_zone IS NULL OR p_zone = '' THEN
        RETURN NULL;
    END IF;
    IF p_zone !~* '^etc/' AND (p_zone ~ '[+-][0-9]'
        OR p_zone ~* '^[ \t]*(utc|gmt|ut)?[0-9]') THEN
        RETURN NULL;
    END IF;
    PERFORM now() AT TIME ZONE p_zone;
    RETURN p_zone;
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN NULL;
END;
$$;
