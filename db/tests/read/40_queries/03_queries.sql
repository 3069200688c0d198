-- q_product, q_products, q_order: the query API's JSON, built here and passed through.
BEGIN;
TRUNCATE order_items_read, orders_read, products_read, processed_events CASCADE;
SELECT plan(12);

INSERT INTO products_read (product_id, name, category, price, stock, low_stock_threshold, version)
VALUES (1, 'Laptop', 'Electronics', 50000, 10, 10, 1), (2, 'Pen', 'Office', 99.99, 3, 10, 1),
       (3, 'Cup', 'Kitchen', 5.5, 50, 10, 1);
INSERT INTO orders_read (order_id, customer_id, status, total, created_at, items, version, occurred_at)
VALUES (7, 101, 'CREATED', 100000, '2026-01-01T10:00:00Z',
        '[{"productId":1,"productName":"Laptop","quantity":2,"price":50000}]', 1, now());

SELECT is((SELECT q_product(1))::jsonb,
          '{"productId":1,"name":"Laptop","category":"Electronics","price":50000,"stock":10,"reserved":0,"lowStock":false,"lowStockThreshold":10}'::jsonb,
          'q_product returns the product with its stock');
SELECT is((SELECT q_product(2))::jsonb->>'price', '99.99', '99.99 stays 99.99');
SELECT is(((SELECT q_product(2))::jsonb->>'lowStock')::boolean, true, 'stock under the threshold is lowStock');
SELECT is(((SELECT q_product(3))::jsonb->>'price'), '5.5', 'trailing zeros are trimmed');
SELECT is((SELECT q_product(99)), NULL, 'an unknown product is NULL');
SELECT is(json_array_length((SELECT q_products(10, 0))::json), 3, 'q_products lists all');
SELECT is((SELECT q_products(2, 0))::jsonb->1->>'productId', '2', 'q_products orders by id and limits');
SELECT is(json_array_length((SELECT q_products(10, 2))::json), 1, 'q_products honours offset');
SELECT is((SELECT q_products(10, 5)), '[]', 'past the end is an empty array');
SELECT is((SELECT q_order(7))::jsonb - 'items',
          '{"orderId":7,"customerId":101,"status":"CREATED","total":100000,"createdAt":"2026-01-01T10:00:00.000000Z","payment":null,"timeline":[]}'::jsonb,
          'q_order returns the order');
SELECT is((SELECT q_order(7))::jsonb->'items'->0->>'quantity', '2', 'q_order returns the items');
SELECT is((SELECT q_order(8)), NULL, 'an unknown order is NULL');

SELECT * FROM finish();
ROLLBACK;
