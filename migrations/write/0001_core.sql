-- Write DB, version 1: products, orders, the transactional outbox and the relay's wake-up flag.
-- Money is numeric with at most 2 fraction digits; JSON output goes through trim_scale so that
-- 50000 stays 50000 and 99.99 stays 99.99.

CREATE TABLE products (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name                text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    category            text NOT NULL CHECK (char_length(category) BETWEEN 1 AND 100),
    price               numeric(14, 2) NOT NULL CHECK (price >= 0),
    stock               integer NOT NULL CHECK (stock >= 0),
    low_stock_threshold integer NOT NULL DEFAULT 10 CHECK (low_stock_threshold >= 0),
    version             integer NOT NULL DEFAULT 1,
    created_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id bigint NOT NULL CHECK (customer_id > 0),
    status      text NOT NULL CHECK (status IN ('CREATED', 'PAID', 'SHIPPED', 'COMPLETED', 'CANCELLED')),
    total       numeric(14, 2) NOT NULL CHECK (total >= 0),
    version     integer NOT NULL DEFAULT 1,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX orders_customer_idx ON orders (customer_id);

CREATE TABLE order_items (
    order_id   bigint NOT NULL REFERENCES orders (id),
    line_no    integer NOT NULL CHECK (line_no > 0),
    product_id bigint NOT NULL REFERENCES products (id),
    quantity   integer NOT NULL CHECK (quantity > 0),
    price      numeric(14, 2) NOT NULL CHECK (price >= 0),
    PRIMARY KEY (order_id, line_no)
);
CREATE INDEX order_items_product_idx ON order_items (product_id);

-- The transactional outbox: one row per event, written in the same transaction as the change.
CREATE TABLE outbox (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id          uuid NOT NULL UNIQUE DEFAULT gen_random_uuid(),
    event_type        text NOT NULL,
    aggregate_type    text NOT NULL,
    aggregate_id      bigint NOT NULL,
    aggregate_version integer NOT NULL,
    payload           jsonb NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at      timestamptz
);
CREATE INDEX outbox_unpublished_idx ON outbox (id) WHERE published_at IS NULL;

-- The relay's wake-up switch. The outbox trigger sends a NOTIFY only while notify_wanted is true:
-- the relay clears it while it drains the outbox and sets it (then looks once more) before it
-- sleeps, so under load committing writers do not serialise on NOTIFY's commit-time lock.
CREATE TABLE relay_state (
    singleton     boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    notify_wanted boolean NOT NULL DEFAULT true,
    updated_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO relay_state DEFAULT VALUES;

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
