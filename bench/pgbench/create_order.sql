-- pgbench baseline of the write path: the command API's very statement around cmd_create_order
-- (api/command/command.c), with the random order shape of bench/lua/order.lua: customer
-- 1..:customers, 1 to 3 lines of a product in :pmin..:pmax with quantity 1 to 3, no price.
-- Run with -M prepared and -D customers=.. -D pmin=.. -D pmax=..
\set cid random(1, :customers)
\set n random(1, 3)
\set p1 random(:pmin, :pmax)
\set p2 random(:pmin, :pmax)
\set p3 random(:pmin, :pmax)
\set q1 random(1, 3)
\set q2 random(1, 3)
\set q3 random(1, 3)
\if :n = 1
SELECT (r - 'eventIds')::text, array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'eventIds')), ','), r->>'orderId'
FROM cmd_create_order(jsonb_build_object('customerId', :cid::bigint, 'items', jsonb_build_array(
    jsonb_build_object('productId', :p1::bigint, 'quantity', :q1::integer)))) AS r;
\elif :n = 2
SELECT (r - 'eventIds')::text, array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'eventIds')), ','), r->>'orderId'
FROM cmd_create_order(jsonb_build_object('customerId', :cid::bigint, 'items', jsonb_build_array(
    jsonb_build_object('productId', :p1::bigint, 'quantity', :q1::integer),
    jsonb_build_object('productId', :p2::bigint, 'quantity', :q2::integer)))) AS r;
\else
SELECT (r - 'eventIds')::text, array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'eventIds')), ','), r->>'orderId'
FROM cmd_create_order(jsonb_build_object('customerId', :cid::bigint, 'items', jsonb_build_array(
    jsonb_build_object('productId', :p1::bigint, 'quantity', :q1::integer),
    jsonb_build_object('productId', :p2::bigint, 'quantity', :q2::integer),
    jsonb_build_object('productId', :p3::bigint, 'quantity', :q3::integer)))) AS r;
\endif
