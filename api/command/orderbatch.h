/* orderbatch: POST /api/orders in natural batches (docs/performance.md). The create-order
 * requests that arrive while a batch runs wait for the next one, which hands all of them to
 * cmd_create_orders (migrations/write/0014) in one statement and one transaction; a lone request
 * runs at once, alone, through the single statement as before (command.c's create_order, or
 * idempotent with a key: both must be prepared on the pool's connections). Each order keeps its own
 * result: its answer, or the business error that refused it alone (the others commit). When the
 * batch statement fails as a whole for a reason other than an unavailable database (a deadlock,
 * say), each of its orders runs again alone; when the database is unavailable, each answers so.
 *
 * Threads: orderbatch_run from any HTTP thread (lib/base/batcher.h). */
#ifndef CQ_ORDERBATCH_H
#define CQ_ORDERBATCH_H

#include "pg/pg.h"

struct metrics;

#include <stdbool.h>
#include <stddef.h>

/* The batch statement, prepared on every connection of the pool (command_stmts). */
#define ORDERBATCH_STMT                                                                            \
    {                                                                                              \
        "create_orders",                                                                           \
            "SELECT ord, (answer - 'eventIds')::text, "                                            \
            "array_to_string(ARRAY(SELECT jsonb_array_elements_text(answer->'eventIds')), ','), "  \
            "answer->>'orderId', replayed, err_state, err_message, err_column "                    \
            "FROM cmd_create_orders($1::jsonb) ORDER BY ord",                                      \
            1                                                                                      \
    }

struct orderbatch;

/* One order. In: body (a validated JSON object), traceparent, and with an Idempotency-Key its
 * key and the path it is bound to. */
struct orderbatch_order {
    const char *body;
    size_t body_len;
    const char *traceparent;
    const char *key;  /* NULL: none */
    const char *path; /* with a key */
};

enum orderbatch_outcome {
    ORDERBATCH_ALONE,       /* run it alone, through the single statement: the batch failed as
                               a whole */
    ORDERBATCH_ANSWERED,    /* answer, tokens, id, replayed are set */
    ORDERBATCH_REFUSED,     /* err_state, err_message, err_column are set */
    ORDERBATCH_UNAVAILABLE, /* the database is unavailable (err_message says why, for the log) */
};

/* The result; its strings are owned by it: orderbatch_result_clear frees them. */
struct orderbatch_result {
    enum orderbatch_outcome outcome;
    char *answer; /* the command's JSON without eventIds */
    size_t answer_len;
    char *tokens; /* comma-separated event ids */
    char *id;     /* the order id, NULL if none */
    bool replayed;
    char *err_state, *err_message, *err_column; /* err_column NULL if none */
};

/* max_batch 2..BATCHER_MAX_BATCH orders per statement, runners >= 1 statements at once, ttl_s the
 * Idempotency-Key's time-to-live. Registers command_order_batches_total and
 * command_batched_orders_total in m. NULL on a bad argument. Borrows pool and m. */
struct orderbatch *orderbatch_new(struct pg_pool *pool, struct metrics *m, size_t max_batch,
                                  unsigned runners, long ttl_s);
void orderbatch_free(struct orderbatch *ob);

/* Runs order in the next batch; fills res (cleared first). */
void orderbatch_run(struct orderbatch *ob, const struct orderbatch_order *order,
                    struct orderbatch_result *res);
void orderbatch_result_clear(struct orderbatch_result *res);

/* The batch statement's parameter for orders[0..n-1]: a JSON array of {"body", "traceparent",
 * "key", "ttl", "path"} (cmd_create_orders). Returns a string the caller frees, NULL when out of
 * memory. Exposed for tests. */
char *orderbatch_json(const struct orderbatch_order *const *orders, size_t n, long ttl_s);

#endif
