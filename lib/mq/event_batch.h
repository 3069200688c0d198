/* event_batch: what the consumer needs from event envelopes, without touching the broker or the
 * database: validate one message body and pick out the fields it logs, and build the JSON array
 * that apply_events() takes, by concatenating validated bodies ('[' body ',' body ']').
 *
 * Memory: struct event_batch owns its buffer (event_batch_release frees it); the strings it
 * returns stay valid until the next call that changes the batch. */
#ifndef CQ_EVENT_BATCH_H
#define CQ_EVENT_BATCH_H

#include "base/buf.h"
#include "base/tracing.h"

#include <stddef.h>

struct event_info {
    char event_id[64];       /* eventId, truncated for logs */
    char event_type[64];     /* eventType */
    long long order_id;      /* orderId (or aggregateId of an "order"), 0 when absent */
    long long product_id;    /* productId (or aggregateId of a "product"), 0 when absent */
    char aggregate_type[32]; /* aggregateType when it is a plain lowercase name, else "" */
    long long aggregate_id;  /* aggregateId, 0 when absent */
    double occurred_at; /* occurredAt (ISO 8601) as Unix seconds, 0 when absent or unreadable */
    /* the trace id of the message's W3C traceparent header (lib/base/tracing.h), "" none: set by
     * the receiver (event_info_parse reads the body only and leaves it "") */
    char trace_id[TRACING_TRACE_ID_LEN + 1];
};

/* Checks that body (len bytes, not NUL-terminated) is an event envelope: one JSON object with
 * string eventId and eventType. Fills info. Returns 0, or -1 with err saying what is wrong (then
 * the message is poison: no retry can make it apply). */
__attribute__((warn_unused_result)) int
event_info_parse(const void *body, size_t len, struct event_info *info, char *err, size_t errlen);

/* Writes the log keys of info into buf: "order_id=1 event_id=...": order_id= or product_id= when
 * the event names one, else <aggregate_type>_id= (todo_id=, mood_id=), else no id key. An event_id
 * that is not uuid-like is quoted. " trace_id=..." follows when the event has one. Returns buf. */
const char *event_info_keys(const struct event_info *info, char *buf, size_t len);

struct event_batch {
    struct buf buf; /* '[' body ',' body ..., without the closing ']' (lib/base/buf.h) */
    size_t count;
};

void event_batch_init(struct event_batch *b);
void event_batch_release(struct event_batch *b);
/* Empties the batch, keeping its buffer. */
void event_batch_reset(struct event_batch *b);
/* Appends one body that event_info_parse() accepted. */
void event_batch_add(struct event_batch *b, const void *body, size_t len);
/* The JSON array of every body added since the last reset: "[]" when empty. */
const char *event_batch_json(struct event_batch *b);
/* Resets b to hold exactly one body as a NUL-terminated string (not an array); returns it. */
const char *event_batch_one(struct event_batch *b, const void *body, size_t len);

#endif
