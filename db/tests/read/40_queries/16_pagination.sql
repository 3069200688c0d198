-- The *_page queries (read 0016): the JSON array of the page and whether more remains, read
-- with limit + 1 rows; the former functions answer the same arrays through them.
BEGIN;
TRUNCATE order_items_read, orders_read, products_read, todos_read, processed_events CASCADE;
SELECT plan(20);

INSERT INTO products_read (product_id, name, category, price, stock, low_stock_threshold, version)
VALUES (1, 'A', 'C', 1, 10, 10, 1), (2, 'B', 'C', 2, 3, 10, 1), (3, 'C', 'C', 3, 50, 10, 1),
       (4, 'D', 'C', 4, 1, 10, 1);
INSERT INTO orders_read (order_id, customer_id, status, total, created_at, items, version, occurred_at)
VALUES (7, 101, 'CREATED', 1, '2026-01-01T10:00:00Z', '[]', 1, now()),
       (8, 101, 'PAID', 2, '2026-01-02T10:00:00Z', '[]', 1, now()),
       (9, 101, 'PAID', 3, '2026-01-03T10:00:00Z', '[]', 1, now());
INSERT INTO todos_read (todo_id, title, completed, version, deleted)
VALUES (1, 'one', false, 1, false), (2, 'two', true, 1, false), (3, 'gone', false, 2, true),
       (4, 'four', false, 1, false);

-- products
SELECT is((SELECT more FROM q_products_page(3, 0)), true, 'a full page with more after it says so');
SELECT is((SELECT json_array_length(body::json) FROM q_products_page(3, 0)), 3,
          'the extra row read is not answered');
SELECT is((SELECT more FROM q_products_page(4, 0)), false, 'exactly the rest: no more');
SELECT is((SELECT more FROM q_products_page(3, 1)), false, 'the last page: no more');
SELECT is((SELECT body::jsonb->0->>'productId' FROM q_products_page(2, 2)), '3', 'offset honoured');
SELECT is((SELECT body FROM q_products_page(2, 10)), '[]', 'past the end: []');
SELECT is((SELECT more FROM q_products_page(2, 10)), false, 'past the end: no more');
SELECT is((SELECT q_products(10, 0)), (SELECT body FROM q_products_page(10, 0)),
          'q_products answers the page''s body');

-- customer orders, newest first
SELECT is((SELECT body::jsonb->0->>'orderId' FROM q_customer_orders_page(101, NULL, 2, 0)), '9',
          'newest first');
SELECT is((SELECT more FROM q_customer_orders_page(101, NULL, 2, 0)), true, 'one more order');
SELECT is((SELECT more FROM q_customer_orders_page(101, 'PAID', 2, 0)), false,
          'the status filter counts too');

-- inventory
SELECT is((SELECT json_array_length(body::json) FROM q_inventory_page(false, 2, 0)), 2,
          'inventory is paginated');
SELECT is((SELECT more FROM q_inventory_page(false, 2, 0)), true, 'more inventory');
SELECT is((SELECT body::jsonb->1->>'productId' FROM q_inventory_page(true, 10, 0)), '4',
          'lowStock filters before paging');
SELECT is((SELECT json_array_length(q::json) FROM q_inventory(false) AS q), 4,
          'q_inventory (the seeds'' inventory) still answers every product');
SELECT is((SELECT more FROM q_inventory_page(false, NULL, 0)), false, 'no limit: no more');

-- todos: tombstones hidden, paged
SELECT is((SELECT body::jsonb FROM q_todos_page(2, 0)),
          '[{"id":1,"title":"one","completed":false},{"id":2,"title":"two","completed":true}]'::jsonb,
          'the first page of todos');
SELECT is((SELECT more FROM q_todos_page(2, 0)), true, 'more todos');
SELECT is((SELECT body::jsonb->0->>'id' FROM q_todos_page(2, 2)), '4', 'a deleted todo takes no place');
SELECT is((SELECT json_array_length(q::json) FROM q_todos() AS q), 3,
          'q_todos (the todo demo''s list) still answers every todo');

SELECT * FROM finish();
ROLLBACK;
