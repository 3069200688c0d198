-- The relay's leader lease (migrations/write/0008_relay_lease.sql): taken when free, renewed by
-- its holder only, refused while another live session holds it unexpired, taken over once it
-- expired or its holder's backend is gone (a reused pid included), given up by release; and the
-- mark fenced by it: a relay that does not hold the lease marks nothing. Terminating a live old
-- holder needs a second session: the fault suite's test 12.b does it with two relays.
BEGIN;
TRUNCATE outbox;
SELECT plan(31);

UPDATE relay_lease SET holder = NULL, holder_pid = NULL, holder_backend_start = NULL, epoch = 0,
                       expires_at = '-infinity';

SELECT throws_ok($$SELECT * FROM relay_lease_acquire('', 5000)$$, '22023', NULL,
                 'a holder is required');
SELECT throws_ok($$SELECT * FROM relay_lease_acquire('a', 0)$$, '22023', NULL,
                 'and a positive lease');

-- ---- a free lease is taken ----------------------------------------------------------------------
SELECT is((SELECT row(acquired, holder, epoch, fenced_pid)::text FROM relay_lease_acquire('a', 5000)),
          row(true, 'a', 1::bigint, NULL::integer)::text, 'a free lease is taken, epoch 1');
SELECT is((SELECT holder_pid FROM relay_lease), pg_backend_pid(), 'by this session''s backend');
SELECT is((SELECT holder_backend_start FROM relay_lease),
          (SELECT backend_start FROM pg_stat_activity WHERE pid = pg_backend_pid()),
          'whose start time is recorded (a reused pid is not the holder)');
SELECT ok((SELECT expires_at BETWEEN clock_timestamp() + interval '4 s'
                                 AND clock_timestamp() + interval '5 s' FROM relay_lease),
          'it expires after the lease');

-- ---- renewals: by the holder only ---------------------------------------------------------------
UPDATE relay_lease SET expires_at = clock_timestamp() + interval '1 s';
SELECT is(relay_lease_renew('a', 5000), true, 'the holder renews');
SELECT ok((SELECT expires_at > clock_timestamp() + interval '4 s' FROM relay_lease),
          'which moves the expiry');
SELECT is(relay_lease_renew('b', 5000), false, 'another relay cannot renew it');
SELECT is((SELECT row(acquired, holder, epoch)::text FROM relay_lease_acquire('a', 5000)),
          row(true, 'a', 1::bigint)::text, 'acquire by the holder renews, same epoch');

-- ---- held by a live session, unexpired: refused -------------------------------------------------
SELECT is((SELECT row(acquired, holder, epoch, fenced_pid)::text FROM relay_lease_acquire('b', 5000)),
          row(false, 'a', 1::bigint, NULL::integer)::text,
          'another relay is refused while the holder''s session lives and the lease runs');
SELECT is((SELECT holder FROM relay_lease), 'a', 'the lease is unchanged');

-- ---- the mark is fenced by the lease ------------------------------------------------------------
SELECT outbox_append('order', 1, 1, 'OrderCreated', '{}');
SELECT outbox_append('order', 1, 2, 'OrderPaid', '{}');
SELECT outbox_append('order', 2, 1, 'OrderCreated', '{}');
SELECT is(relay_mark_published(ARRAY(SELECT id FROM outbox ORDER BY id LIMIT 2), 'b'), NULL,
          'a relay that does not hold the lease marks nothing (NULL)');
SELECT is((SELECT count(*)::int FROM outbox WHERE published_at IS NOT NULL), 0, 'no row is marked');
SELECT is(relay_mark_published(ARRAY(SELECT id FROM outbox ORDER BY id LIMIT 2), 'a'), 2,
          'the holder marks');
SELECT is((SELECT count(*)::int FROM outbox WHERE published_at IS NOT NULL), 2, 'two rows are marked');
SELECT is(relay_mark_published(ARRAY(SELECT id FROM outbox ORDER BY id), 'a'), 1,
          'a row already marked is not marked again');

-- ---- an expired lease is taken over ---------------------------------------------------------------
UPDATE relay_lease SET expires_at = clock_timestamp() - interval '1 ms';
SELECT is((SELECT row(acquired, holder, epoch)::text FROM relay_lease_acquire('b', 5000)),
          row(true, 'b', 2::bigint)::text, 'an expired lease is taken over, epoch 2');
SELECT is(relay_lease_renew('a', 5000), false, 'the old holder can no longer renew');
SELECT is(relay_mark_published(ARRAY(SELECT id FROM outbox), 'a'), NULL,
          'nor mark: a deposed leader never marks');

-- ---- a holder whose backend is gone: taken over at once ----------------------------------------
UPDATE relay_lease SET holder = 'gone', holder_pid = 2147483647,
                       expires_at = clock_timestamp() + interval '1 hour';
SELECT is((SELECT row(acquired, holder, epoch, fenced_pid)::text FROM relay_lease_acquire('c', 5000)),
          row(true, 'c', 3::bigint, NULL::integer)::text,
          'a lease whose holder''s backend no longer exists is taken over before it expires');
UPDATE relay_lease SET holder = 'reused', holder_backend_start = '2000-01-01',
                       expires_at = clock_timestamp() + interval '1 hour';
SELECT is((SELECT acquired FROM relay_lease_acquire('d', 5000)), true,
          'as is one whose pid now belongs to another backend (another start time)');

-- ---- release ----------------------------------------------------------------------------------------
SELECT is(relay_lease_release('x'), false, 'only the holder releases');
SELECT is(relay_lease_release('d'), true, 'the holder releases');
SELECT is((SELECT holder_pid FROM relay_lease), NULL, 'the lease has no session any more');
SELECT ok((SELECT expires_at <= clock_timestamp() FROM relay_lease), 'and has expired');
SELECT is((SELECT acquired FROM relay_lease_acquire('e', 5000)), true,
          'so a standby takes it at once');

-- ---- as the relay's role --------------------------------------------------------------------------
CREATE FUNCTION pg_temp.as_relay(p_sql text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL ROLE cqrs_relay;
    EXECUTE p_sql;
    RESET ROLE;
END $$;
SELECT lives_ok($$SELECT pg_temp.as_relay('SELECT * FROM relay_lease_acquire(''e'', 5000)')$$,
                'the relay''s role may take the lease');
SELECT lives_ok($$SELECT pg_temp.as_relay('SELECT relay_lease_renew(''e'', 5000)')$$,
                'renew it');
SELECT lives_ok($$SELECT pg_temp.as_relay(
                    'SELECT relay_mark_published(ARRAY(SELECT id FROM outbox), ''e'')')$$,
                'and mark under it (the lease row FOR SHARE)');
SELECT is((SELECT epoch FROM relay_lease), 5::bigint, 'one epoch per change of holder');

SELECT * FROM finish();
ROLLBACK;
