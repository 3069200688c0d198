/* command: runs one command: validate the body, call its SQL function in one round trip, and
 * answer with the function's JSON. The function's event ids go to the X-Consistency-Token
 * header. With an Idempotency-Key (see idempotency.h) the call goes through cmd_idempotent,
 * which runs the command or replays the first answer. Business-rule failures raised by the SQL
 * functions (SQLSTATEs CQxxx) are mapped to typed API errors here, in one table. */
#ifndef CQ_COMMAND_H
#define CQ_COMMAND_H

#include "service.h"
#include "validate.h"

#include "http/router.h"

struct command {
    const char *stmt;     /* prepared statement name (see command_stmts); cmd_idempotent's name */
    validate_fn validate; /* NULL: the body must be empty or a JSON object, unchecked */
    bool takes_id;        /* the path's {id} is the statement's $2 */
    unsigned status;      /* success status, e.g. 201 */
    const char *log_msg;  /* e.g. "created order" */
    const char *log_key;  /* e.g. "order_id" */
    const char *id_field; /* the response's id field, for the log line, e.g. "orderId" */
    /* A command that answers in another shape (a seed's, api/command/seeds.h) runs through
     * statements of its own that translate around the same cmd_* function: */
    const char *idempotent_stmt; /* with an Idempotency-Key; NULL: "idempotent" */
    const char *name;            /* the command cmd_idempotent runs; NULL: stmt */
    /* A 201's Location (docs/api.md): this prefix and the answer's id (the log line's), e.g.
     * "/api/orders/" -> /api/orders/42; NULL: the request's own path, a collection, and the id
     * (POST /api/todos -> /api/todos/3, POST /todos -> /todos/3). Unused for other statuses. */
    const char *location;
    /* create-order: runs in natural batches with the others that arrive meanwhile
     * (orderbatch.h), unless ORDER_BATCH_MAX is 1 */
    bool batched;
};

/* Runs cmd for the request (m: its path id, when cmd takes one). */
int command_run(const struct apiserver_ctx *ctx, const struct command *cmd,
                const struct http_request *req, const struct route_match *m,
                struct http_response *resp, struct api_error *err);

/* The handler of a command's route: command_run with the command the route names
 * (m->route->arg, a struct command). */
int command_route(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err);

/* Maps a SQLSTATE raised by a command function to a typed error; returns -1 when it did,
 * 0 when the state is not a business error. Exposed for tests. */
int command_map_sqlstate(const char *sqlstate, const char *message, const char *column,
                         struct api_error *err);

#endif
