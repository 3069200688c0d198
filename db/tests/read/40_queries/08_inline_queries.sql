-- The query functions are bodies the planner inlines (migrations/read/0008_inline_queries.sql):
-- set-returning SQL, STABLE, neither STRICT nor SECURITY DEFINER, without SET clauses. One that
-- loses any of these still answers right, only 2-3 times slower, so only this file notices.
BEGIN;
\ir ../fixtures.psql
SELECT plan(5);

SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                JOIN pg_language l ON l.oid = p.prolang
                WHERE p.pronamespace = 'public'::regnamespace AND p.proname LIKE 'q\_%'
                  AND NOT (l.lanname = 'sql' AND p.proretset AND p.provolatile = 's'
                           AND NOT p.proisstrict AND NOT p.prosecdef AND p.proconfig IS NULL)
                ORDER BY 1),
          '{}'::text[], 'every q_* function is inlinable set-returning SQL');
SELECT cmp_ok((SELECT count(*)::integer FROM pg_proc
               WHERE pronamespace = 'public'::regnamespace AND proname LIKE 'q\_%'), '>=', 14,
              'the check above saw the query functions');

-- the query API's statement form (api/query/query.c, QUERY_CALL): the body is planned into it
SELECT unalike(pg_temp.plan_of('SELECT (SELECT q FROM q_product(1::bigint) AS q)'),
              '%Function Scan%', 'q_product is inlined: no function scan');
SELECT alike(pg_temp.plan_of('SELECT (SELECT q FROM q_order(1::bigint) AS q)'),
             '%Index Scan using orders_read_pkey%', 'q_order is inlined: an index scan of orders_read');

-- finding nothing is no row, which the statement form turns into NULL
SELECT is((SELECT q FROM q_product(-1::bigint) AS q), NULL, 'an unknown id gives NULL');

SELECT * FROM finish();
ROLLBACK;
