/* command: runs one command: validate the body, call its SQL function in one round trip, and
 * answer with the function's JSON. The function's event ids go to the X-Consistency-Token
 * header. With an Idempotency-Key (see idempotency.h) the call goes through cmd_idempotent,
 * which runs the command or replays the first answer. Business-rule failures raised by the SQL
 * functions (SQLSTATEs CQxxx) are mapped to typed API errors here, in one table. */
#ifndef CQ_COMMAND_H
#define CQ_COMMAND_H

#include "service/apiserver.h"
#include "base/config.h"
#include "auth.h"
#include "http/ratelimit.h"

struct dl_actions;
struct orderbatch;
#include "validate.h"

/* The variables the command API's own modules read (--help, lib/service/cli.h). */
extern const struct config_table command_config_table;

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

/* The command API's own settings (ctx->ext), read once by command_start. */
struct command_config {
    const char *api_token;    /* COMMAND_API_TOKEN; "" when unset */
    const char *api_auth;     /* COMMAND_API_AUTH: auto | off */
    enum auth_mode auth_mode; /* from the two above and HTTP_BIND_ADDRESS (auth.h) */
    long idempotency_ttl_s;   /* IDEMPOTENCY_KEY_TTL_S */
    long mood_rate_per_s;     /* MOOD_RATE_PER_S: POST /api/moods per client address; 0: no limit */
    long mood_rate_burst;     /* MOOD_RATE_BURST */
    struct ratelimit *mood_limit; /* NULL when there is no limit; owned */
    struct dl_actions *dl;        /* the dead-letter actions (deadletters.h); owned */
    long order_batch_max;         /* ORDER_BATCH_MAX: orders per batch; 1: no batching */
    long order_batch_runners;     /* ORDER_BATCH_RUNNERS: batches running at once */
    struct orderbatch *orders;    /* NULL when ORDER_BATCH_MAX is 1; owned */
};

extern const struct pg_stmt command_stmts[];
extern const size_t command_nstmts;

/* apiserver hooks: load struct command_config into ctx->ext (-1 on a bad value), free it. */
int command_start(struct apiserver_ctx *ctx);
void command_release(struct apiserver_ctx *ctx);

/* POST /api/moods is public: a token bucket per client address (MOOD_RATE_PER_S, burst
 * MOOD_RATE_BURST). Returns 0, or -1 with err 429 rate_limited (Retry-After) and nothing run. */
int command_mood_rate_check(const struct apiserver_ctx *ctx, const struct http_request *req,
                            struct api_error *err);

int command_run(const struct apiserver_ctx *ctx, const struct command *cmd,
                const struct http_request *req, const struct route_match *m,
                struct http_response *resp, struct api_error *err);

/* Maps a SQLSTATE raised by a command function to a typed error; returns -1 when it did,
 * 0 when the state is not a business error. Exposed for tests. */
int command_map_sqlstate(const char *sqlstate, const char *message, const char *column,
                         struct api_error *err);

#endif
