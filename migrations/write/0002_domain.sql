-- Write DB, version 2: order lifecycle and payments, inventory adjustments, todos.

CREATE TABLE payments (
    id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id bigint NOT NULL UNIQUE REFERENCES orders (id),
    amount   numeric(14, 2) NOT NULL CHECK (amount >= 0),
    method   text NOT NULL CHECK (char_length(method) BETWEEN 1 AND 50),
    paid_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE TABLE inventory_adjustments (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    product_id  bigint NOT NULL REFERENCES products (id),
    delta       integer NOT NULL CHECK (delta <> 0),
    reason      text NOT NULL DEFAULT '',
    stock_after integer NOT NULL CHECK (stock_after >= 0),
    created_at  timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX inventory_adjustments_product_idx ON inventory_adjustments (product_id);

CREATE TABLE todos (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    title      text NOT NULL CHECK (char_length(title) BETWEEN 1 AND 200),
    completed  boolean NOT NULL DEFAULT false,
    deleted_at timestamptz,
    version    integer NOT NULL DEFAULT 1,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
