/* service: the command API's settings and start-up, read once by command_start into ctx->ext
 * (struct command_config), its prepared statements (command_stmts: every command's, the order
 * batch's and the seeds'), and the mood rate limit. */
#ifndef CQ_COMMAND_SERVICE_H
#define CQ_COMMAND_SERVICE_H

#include "auth.h"

#include "base/config.h"
#include "service/apiserver.h"

struct dl_actions;
struct orderbatch;
struct ratelimit;

/* The variables the command API's own modules read (--help, lib/service/cli.h). */
extern const struct config_table command_config_table;

/* The command API's own settings (ctx->ext), read once by command_start. */
struct command_config {
    const char *api_token;    /* COMMAND_API_TOKEN; "" when unset */
    const char *api_auth;     /* COMMAND_API_AUTH: auto | off */
    enum auth_mode auth_mode; /* from the two above and HTTP_BIND_ADDRESS (auth.h) */
    long idempotency_ttl_s;   /* IDEMPOTENCY_KEY_TTL_S (lib/domain) */
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

#endif
