-- Write DB: the W3C trace context of the request that wrote an event travels with it
-- (docs/observability.md, "Request ids and traces"). The command API passes the request's
-- traceparent through cmd_trace() in the argument list of the command it calls, in the same
-- statement (one round trip, no extra SET): cmd_trace stores it in the transaction-local setting
-- cqrs.traceparent, and outbox_append writes it, when valid, into the new nullable
-- outbox.traceparent of every event of that transaction. The relay sends it as the AMQP header
-- `traceparent`. (Validity is checked where it is written, not by a CHECK constraint: a CHECK
-- would run again on the relay's UPDATE of published_at, as the relay's role.)

ALTER TABLE outbox ADD COLUMN traceparent text;

-- Its functions and triggers live in migrations/write/functions/ (repeatable, one
-- current body each: docs/architecture.md, "SQL by role").
