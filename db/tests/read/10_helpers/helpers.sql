-- migrations/read/functions/10_helpers.sql: the small helpers of projections and queries.
BEGIN;
SELECT plan(8);

SELECT is(iso_utc('2026-03-01 10:00:00.123456+02'), '2026-03-01T08:00:00.123456Z',
          'iso_utc: ISO 8601 in UTC, with microseconds');
SELECT is(iso_utc(NULL), NULL, 'iso_utc of NULL is NULL');
SELECT volatility_is('iso_utc', ARRAY['timestamp with time zone'], 'stable',
                     'iso_utc is STABLE, as to_char is (so that the planner inlines it)');
SELECT is(ms_between('2026-03-01 10:00:00+00', '2026-03-01 10:00:01.2346+00'), 1235::bigint,
          'ms_between: milliseconds, rounded');
SELECT is(ms_between('2026-03-01 10:00:01+00', '2026-03-01 10:00:00+00'), -1000::bigint,
          'ms_between: negative when p_to is earlier');
SELECT is(ms_between(NULL, now()), NULL, 'ms_between with NULL is NULL');
SELECT throws_ok($$SELECT proj_reject('{"eventId": "e-1"}', 'no such type')$$, 'CQ422',
                 'cannot apply event e-1: no such type', 'proj_reject raises CQ422 naming the event');
SELECT throws_ok($$SELECT proj_reject('{}', 'empty')$$, 'CQ422', 'cannot apply event ?: empty',
                 'an event without an id is named "?"');

SELECT * FROM finish();
ROLLBACK;
