-- Read DB: iso_utc is STABLE, as to_char(timestamp, text) is (the write DB's
-- migrations/write/0016 says why): declared IMMUTABLE it could not be inlined and ran as a
-- separate SQL function, parsed and planned on every call, in every query answer and projection
-- that formats a time. dash_stalled_reason calls format(), also STABLE.
ALTER FUNCTION iso_utc(timestamptz) STABLE;
ALTER FUNCTION dash_stalled_reason(jsonb, bigint) STABLE;
