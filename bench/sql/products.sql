-- Loads :n products through cmd_create_product, so that each has its ProductCreated event and
-- the read side learns them through the pipeline. Ten categories, prices 0.01..500.00, and a
-- stock that no benchmark run can exhaust (orders never fail for lack of stock).
SELECT count(cmd_create_product(jsonb_build_object(
           'name', format('Product %s', g),
           'category', (ARRAY['Electronics', 'Books', 'Garden', 'Toys', 'Kitchen', 'Sports',
                              'Music', 'Office', 'Beauty', 'Outdoor'])[1 + g % 10],
           'price', round((1 + (g * 7919) % 50000) / 100.0, 2),
           'stock', 1000000000)))
FROM generate_series(1, :n) g;
