/* service: the command API's settings and start-up (the apiserver hooks that load them into
 * ctx->ext and free them), its prepared statements, and the mood rate limit. */
#include "service.h"

#include "auth.h"
#include "deadletters.h"
#include "orderbatch.h"
#include "seeds.h"

#include "base/batcher.h"
#include "base/config.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "domain/domain.h"
#include "http/ratelimit.h"

#include <stdlib.h>
#include <string.h>

/* Every statement returns (response JSON, comma-separated event ids, aggregate id for logs). Its
 * last parameter is the request's traceparent, which cmd_trace() (migrations/write/0013) puts on
 * the events of the command's transaction: $2 after the body alone, $3 after body and path id. */
#define CMD_SQL(fn, args, idkey)                                                                   \
    "SELECT (r - 'eventIds')::text, "                                                              \
    "array_to_string(ARRAY(SELECT jsonb_array_elements_text(r->'eventIds')), ','), "               \
    "r->>'" idkey "' FROM " fn "(" args ") AS r"

/* The same through cmd_idempotent, plus whether it is a replay: $1 key, $2 time-to-live (s),
 * $3 method, $4 path, $5 command (statement name), $6 path id, $7 body, $8 the id field,
 * $9 the traceparent. */
#define IDEMPOTENT_SQL                                                                             \
    "SELECT (r.result - 'eventIds')::text, "                                                       \
    "array_to_string(ARRAY(SELECT jsonb_array_elements_text(r.result->'eventIds')), ','), "        \
    "r.result->>$8, r.replayed "                                                                   \
    "FROM cmd_idempotent($1, $2::integer * interval '1 second', $3, $4, $5, $6::bigint, "          \
    "cmd_trace($9, $7::jsonb)) AS r"

const struct pg_stmt command_stmts[] = {
    {"create_product", CMD_SQL("cmd_create_product", "cmd_trace($2, $1::jsonb)", "productId"), 2},
    {"create_order", CMD_SQL("cmd_create_order", "cmd_trace($2, $1::jsonb)", "orderId"), 2},
    {"pay_order", CMD_SQL("cmd_pay_order", "$2::bigint, cmd_trace($3, $1::jsonb)", "orderId"), 3},
    {"ship_order", CMD_SQL("cmd_ship_order", "$2::bigint, cmd_trace($3, $1::jsonb)", "orderId"), 3},
    {"complete_order",
     CMD_SQL("cmd_complete_order", "$2::bigint, cmd_trace($3, $1::jsonb)", "orderId"), 3},
    {"cancel_order", CMD_SQL("cmd_cancel_order", "$2::bigint, cmd_trace($3, $1::jsonb)", "orderId"),
     3},
    {"adjust_inventory", CMD_SQL("cmd_adjust_inventory", "cmd_trace($2, $1::jsonb)", "productId"),
     2},
    {"create_todo", CMD_SQL("cmd_create_todo", "cmd_trace($2, $1::jsonb)", "id"), 2},
    {"update_todo", CMD_SQL("cmd_update_todo", "$2::bigint, cmd_trace($3, $1::jsonb)", "id"), 3},
    {"delete_todo", CMD_SQL("cmd_delete_todo", "$2::bigint, cmd_trace($3, $1::jsonb)", "id"), 3},
    {"record_mood", CMD_SQL("cmd_record_mood", "cmd_trace($2, $1::jsonb)", "id"), 2},
    {"idempotent", IDEMPOTENT_SQL, 9},
    ORDERBATCH_STMT,
    SEEDS_COMMAND_STMTS};
const size_t command_nstmts = sizeof command_stmts / sizeof command_stmts[0];

/* Client addresses the mood rate limit remembers at once (the least recently seen go first). */
#define MOOD_LIMIT_SLOTS 8192

#define OFF(f) offsetof(struct command_config, f)
static const struct config_var command_vars[] = {
    {"COMMAND_API_TOKEN", CONFIG_STRING, "", OFF(api_token), 0, 0},
    {"COMMAND_API_AUTH", CONFIG_STRING, "auto", OFF(api_auth), 0, 0},
    {"MOOD_RATE_PER_S", CONFIG_INT, "10", OFF(mood_rate_per_s), 0, 1000000},
    {"MOOD_RATE_BURST", CONFIG_INT, "20", OFF(mood_rate_burst), 1, 1000000},
    {"ORDER_BATCH_MAX", CONFIG_INT, "32", OFF(order_batch_max), 1, BATCHER_MAX_BATCH},
    {"ORDER_BATCH_RUNNERS", CONFIG_INT, "2", OFF(order_batch_runners), 1, 64},
};
#undef OFF
const struct config_table command_config_table = CONFIG_TABLE(command_vars);

int command_start(struct apiserver_ctx *ctx)
{
    struct command_config *cfg = xcalloc(1, sizeof *cfg);
    const char *bind = ctx->cfg->bind_address;
    char err[256];

    struct domain_idempotency idem;

    if (config_load(cfg, command_vars, command_config_table.n, err, sizeof err) != 0 ||
        domain_idempotency_load(&idem, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(cfg);
        return -1;
    }
    cfg->idempotency_ttl_s = idem.key_ttl_s;
    if (strcmp(cfg->api_auth, "auto") != 0 && strcmp(cfg->api_auth, "off") != 0) {
        log_error("invalid configuration",
                  "error=\"invalid value for COMMAND_API_AUTH: expected auto or off\"");
        free(cfg);
        return -1;
    }
    if (cfg->api_token[0] != '\0' && !auth_token_valid(cfg->api_token)) {
        /* the value itself is a secret: never in the log */
        log_error("invalid configuration",
                  "error=\"invalid value for COMMAND_API_TOKEN: expected 1 to 1024 visible ASCII "
                  "characters\"");
        free(cfg);
        return -1;
    }
    cfg->auth_mode = auth_mode_for(bind, cfg->api_token, cfg->api_auth);
    switch (cfg->auth_mode) {
    case AUTH_TOKEN:
        log_info("commands need a bearer token", NULL);
        break;
    case AUTH_LOCAL:
        log_info("commands need no token: bound to a loopback address and COMMAND_API_TOKEN is "
                 "not set",
                 "bind=%s", bind);
        break;
    case AUTH_OFF:
        log_warn("COMMAND_API_AUTH=off: commands are accepted without a token from anyone who "
                 "can connect",
                 "bind=%s", bind);
        break;
    case AUTH_REFUSE:
        log_error("refusing to start: bound beyond loopback without COMMAND_API_TOKEN",
                  "bind=%s hint=\"set COMMAND_API_TOKEN, or COMMAND_API_AUTH=off to run without "
                  "authentication\"",
                  bind);
        free(cfg);
        return -1;
    }
    cfg->dl = dl_actions_new();
    if (cfg->dl == NULL) {
        free(cfg);
        return -1;
    }
    if (cfg->mood_rate_per_s > 0)
        cfg->mood_limit = ratelimit_new((double)cfg->mood_rate_per_s, (double)cfg->mood_rate_burst,
                                        MOOD_LIMIT_SLOTS);
    log_info("mood rate limit", "mood_rate_per_s=%ld mood_rate_burst=%ld", cfg->mood_rate_per_s,
             cfg->mood_rate_burst);
    if (cfg->order_batch_max > 1) /* 1: every order alone */
        cfg->orders = orderbatch_new(ctx->pool, ctx->metrics, (size_t)cfg->order_batch_max,
                                     (unsigned)cfg->order_batch_runners, cfg->idempotency_ttl_s);
    log_info("order batching", "order_batch_max=%ld order_batch_runners=%ld", cfg->order_batch_max,
             cfg->order_batch_runners);
    ctx->ext = cfg;
    return 0;
}

void command_release(struct apiserver_ctx *ctx)
{
    struct command_config *cfg = ctx->ext;

    if (cfg != NULL) {
        orderbatch_free(cfg->orders);
        ratelimit_free(cfg->mood_limit);
        dl_actions_free(cfg->dl);
    }
    free(cfg);
    ctx->ext = NULL;
}

int command_mood_rate_check(const struct apiserver_ctx *ctx, const struct http_request *req,
                            struct api_error *err)
{
    const struct command_config *cfg = ctx->ext;
    unsigned wait_s;

    if (cfg == NULL || cfg->mood_limit == NULL)
        return 0;
    wait_s = ratelimit_take(cfg->mood_limit, req->client, deadline_now_ms());
    if (wait_s == 0)
        return 0;
    log_debug("mood refused by the rate limit", "client=%s retry_after_s=%u", req->client, wait_s);
    return api_error_rate_limited(err, wait_s, "too many moods from this address, retry in %u s",
                                  wait_s);
}
