-- Read DB, version 1: the read model the consumer projects from events, and the JSON the query
-- API passes through. Every projection runs inside apply_event(), which records the event id in
-- processed_events in the same transaction, so a redelivered event changes nothing.

CREATE TABLE processed_events (
    event_id     uuid PRIMARY KEY,
    event_type   text NOT NULL,
    occurred_at  timestamptz,
    processed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE products_read (
    product_id          bigint PRIMARY KEY,
    name                text NOT NULL,
    category            text NOT NULL,
    price               numeric(14, 2) NOT NULL,
    stock               integer NOT NULL,
    low_stock_threshold integer NOT NULL DEFAULT 10,
    version             integer NOT NULL,
    updated_at          timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE orders_read (
    order_id     bigint PRIMARY KEY,
    customer_id  bigint NOT NULL,
    status       text NOT NULL,
    total        numeric(14, 2) NOT NULL,
    created_at   timestamptz NOT NULL,
    items        jsonb NOT NULL,
    version      integer NOT NULL,
    occurred_at  timestamptz NOT NULL,  -- occurredAt of the last applied event
    projected_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX orders_read_customer_idx ON orders_read (customer_id, created_at DESC, order_id DESC);

CREATE TABLE order_items_read (
    order_id     bigint NOT NULL REFERENCES orders_read (order_id),
    line_no      integer NOT NULL,
    product_id   bigint NOT NULL,
    product_name text NOT NULL,
    category     text NOT NULL,
    quantity     integer NOT NULL,
    price        numeric(14, 2) NOT NULL,
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_read_product_idx ON order_items_read (product_id);

-- Its functions and triggers live in migrations/read/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
