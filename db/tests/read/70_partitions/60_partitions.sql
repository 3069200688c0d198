-- The consumers' partition leases (migrations/read/functions/70_partitions.sql): quotas by rank,
-- convergence, stickiness, expiry, leave, a shrinking partition count and the session's shard.
BEGIN;
SELECT plan(30);
DELETE FROM consumer_partitions;
DELETE FROM consumer_members;

-- ---- validation ---------------------------------------------------------------------------------
SELECT throws_ok($$SELECT consumer_claim_partitions('', 4, 1000)$$, '22023', NULL, 'an empty holder is refused');
SELECT throws_ok($$SELECT consumer_claim_partitions(repeat('x', 201), 4, 1000)$$, '22023', NULL,
                 'a holder longer than 200 characters is refused');
SELECT throws_ok($$SELECT consumer_claim_partitions('a', 0, 1000)$$, '22023',
                 'invalid partition count 0: it must be 1 to 1024', 'no partitions is refused');
SELECT throws_ok($$SELECT consumer_claim_partitions('a', 1025, 1000)$$, '22023', NULL,
                 'more than 1024 partitions are refused');
SELECT throws_ok($$SELECT consumer_claim_partitions('a', 4, 99)$$, '22023',
                 'invalid partition lease 99 ms: it must be 100 to 600000 ms', 'a lease under 100 ms is refused');
SELECT throws_ok($$SELECT consumer_claim_partitions('a', 4, 600001)$$, '22023', NULL,
                 'a lease over 10 minutes is refused');
SELECT throws_ok($$SELECT consumer_leave_partitions(NULL)$$, '22023', NULL, 'leave needs a holder');

-- ---- one member, then two, then three -----------------------------------------------------------
SET LOCAL cqrs.shard = 9;
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0, 1, 2, 3], 'a lone member holds every partition');
SELECT is(current_setting('cqrs.shard'), '0', 'and its shard is its lowest partition');
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0, 1, 2, 3], 'renewing keeps them');

SELECT is(consumer_claim_partitions('c-c', 4, 30000), '{}'::integer[],
          'a second member finds none free: a hot spare for now');
SELECT is(current_setting('cqrs.shard'), '0', 'an empty answer keeps the session''s shard');
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0, 1],
          'the first member, ranked 0 of 2, keeps its lowest 2 and releases the rest');
SELECT is(consumer_claim_partitions('c-c', 4, 30000), ARRAY[2, 3], 'the second claims the freed 2');
SELECT is(current_setting('cqrs.shard'), '2', 'and writes to shard 2');

-- a third member, ranked first by name: quotas 2, 1, 1 by rank (c-a, c-b, c-c)
CREATE TEMP TABLE rounds (round int, holder text, parts int[]);
INSERT INTO rounds SELECT r, h, consumer_claim_partitions(h, 4, 30000)
FROM generate_series(1, 3) AS r, unnest(ARRAY['c-a', 'c-c', 'c-b']) WITH ORDINALITY AS x(h, o)
ORDER BY r, o;
SELECT is((SELECT array_agg(holder || ':' || cardinality(parts) ORDER BY holder)
           FROM rounds WHERE round = 3),
          ARRAY['c-a:2', 'c-b:1', 'c-c:1'], 'after rounds of calls the quotas are 2, 1, 1 by rank');
SELECT is((SELECT array_agg(holder || ':' || array_to_string(parts, ',') ORDER BY holder)
           FROM rounds WHERE round = 2),
          (SELECT array_agg(holder || ':' || array_to_string(parts, ',') ORDER BY holder)
           FROM rounds WHERE round = 3), 'and stay put: round 3 changed nothing');
SELECT is((SELECT count(*)::int FROM consumer_partitions WHERE partition < 4 AND holder IS NOT NULL), 4,
          'every partition is held');
SELECT is((SELECT count(*)::int FROM (SELECT unnest(parts) FROM rounds WHERE round = 3) p), 4,
          'by exactly one member each');
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0], 'once balanced, a renewal changes nothing');

-- ---- expiry and leave ---------------------------------------------------------------------------
UPDATE consumer_members SET seen_until = now() - interval '1 second' WHERE holder = 'c-a';
UPDATE consumer_partitions SET lease_until = now() - interval '1 second' WHERE holder = 'c-a';
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0, 1],
          'a member that stopped calling loses its partitions after its lease: the others take them');
SELECT is(consumer_claim_partitions('c-c', 4, 30000), ARRAY[2, 3], 'each up to its new quota');
SELECT consumer_leave_partitions('c-c');
SELECT is((SELECT array_agg(partition ORDER BY partition) FROM consumer_partitions WHERE holder IS NULL),
          ARRAY[2, 3], 'leave frees its partitions at once');
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0, 1, 2, 3], 'and the last member takes them all');

-- ---- a shrinking partition count ----------------------------------------------------------------
SELECT is(consumer_claim_partitions('c-b', 2, 30000), ARRAY[0, 1], 'partitions >= P are never returned');
SELECT is((SELECT jsonb_agg(x->'holder') FROM jsonb_array_elements(consumer_partitions_status()) AS x),
          '["c-b", "c-b", null, null]'::jsonb, 'and are let go (consumer_partitions_status)');

-- ---- joining before claiming ----------------------------------------------------------------------
SELECT throws_ok($$SELECT consumer_join_partitions('', 1000)$$, '22023', NULL, 'join needs a holder');
SELECT consumer_leave_partitions('c-b');
SELECT consumer_join_partitions('c-a', 30000);
SELECT is((SELECT count(*)::int FROM consumer_partitions WHERE holder = 'c-a'), 0,
          'a member that joins claims nothing yet');
SELECT is(consumer_claim_partitions('c-b', 4, 30000), ARRAY[0, 1],
          'but counts: the others keep to their share of P / members');
SELECT is(consumer_claim_partitions('c-a', 4, 30000), ARRAY[2, 3],
          'and its first claim takes its share without a hand-over');

SELECT * FROM finish();
ROLLBACK;
