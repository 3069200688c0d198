/* command: runs one command (command.h): validation, the statement in one round trip (alone or
 * in an order batch, with or without an Idempotency-Key), and the answer or the mapped error. */
#include "command.h"

#include "idempotency.h"
#include "orderbatch.h"
#include "service.h"

#include "base/log.h"
#include "base/tracing.h"
#include "base/xalloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct {
    const char *sqlstate;
    enum api_status kind;
    const char *code;
} business_errors[] = {
    {"CQ400", API_BAD_REQUEST, "validation_error"},
    {"CQ404", API_NOT_FOUND, "not_found"},
    {"CQ409", API_CONFLICT, "insufficient_stock"},
    {"CQ410", API_CONFLICT, "price_mismatch"},
    {"CQ411", API_CONFLICT, "invalid_transition"},
    {"CQ412", API_CONFLICT, "amount_mismatch"},
    {"CQ413", API_CONFLICT, "already_paid"},
    {"CQ422", API_UNPROCESSABLE, "idempotency_key_reused"}, /* cmd_idempotent */
    /* input the validators let through but the database refuses: still the client's fault */
    {"22003", API_BAD_REQUEST, "validation_error"}, /* numeric_value_out_of_range */
    {"22P02", API_BAD_REQUEST, "validation_error"}, /* invalid_text_representation */
    {"23514", API_BAD_REQUEST, "validation_error"}, /* check_violation */
};

int command_map_sqlstate(const char *sqlstate, const char *message, const char *column,
                         struct api_error *err)
{
    if (sqlstate == NULL)
        return 0;
    for (size_t i = 0; i < sizeof business_errors / sizeof business_errors[0]; i++) {
        if (strcmp(business_errors[i].sqlstate, sqlstate) != 0)
            continue;
        api_error_set(err, business_errors[i].kind, business_errors[i].code, "%s",
                      message != NULL ? message : business_errors[i].code);
        if (column != NULL)
            snprintf(err->field, sizeof err->field, "%s", column);
        return -1;
    }
    return 0;
}

/* Sets a 201's Location: cmd->location and id, or path (the collection posted to) "/" id. */
static int command_location(const struct command *cmd, const char *path, const char *id,
                            struct http_response *resp)
{
    char loc[512];
    size_t n = strlen(path);

    if (cmd->location != NULL)
        snprintf(loc, sizeof loc, "%s%s", cmd->location, id);
    else
        snprintf(loc, sizeof loc, "%.*s/%s", (int)(n > 1 && path[n - 1] == '/' ? n - 1 : n), path,
                 id);
    return http_response_header(resp, "Location", loc);
}

/* A command's answer: its JSON (without eventIds), event ids, the id for logs (NULL if none) and
 * whether cmd_idempotent replayed it. */
struct answer_row {
    const char *body;
    size_t len;
    const char *tokens;
    const char *id;
    bool replayed;
};

/* Answers with row. trace_id is the request's, for the log line; path the request's (a 201's
 * Location); key its Idempotency-Key or NULL. */
static int answer(const struct command *cmd, const char *trace_id, const char *path,
                  const char *key, const struct answer_row *row, struct http_response *resp)
{
    char q[300];
    char *body = xmalloc(row->len + 1);

    memcpy(body, row->body, row->len);
    body[row->len] = '\0';
    http_response_json(resp, cmd->status, body, row->len);
    if (*row->tokens != '\0' && http_response_header(resp, "X-Consistency-Token", row->tokens) != 0)
        return -1;
    if (row->replayed && http_response_header(resp, "Idempotent-Replayed", "true") != 0)
        return -1;
    if (cmd->status == 201 && row->id != NULL && command_location(cmd, path, row->id, resp) != 0)
        return -1;
    if (row->replayed)
        log_info("replayed command", "stmt=%s %s=%s event_id=%s idempotency_key=%s trace_id=%s",
                 cmd->stmt, cmd->log_key, row->id != NULL ? row->id : "", row->tokens,
                 log_quote(q, sizeof q, key != NULL ? key : ""), trace_id);
    else
        log_info(cmd->log_msg, "%s=%s event_id=%s trace_id=%s", cmd->log_key,
                 row->id != NULL ? row->id : "", row->tokens, trace_id);
    return 0;
}

/* Whether the database refused the command for a business rule (command_map_sqlstate): err is
 * set and the refusal logged. */
static bool rejected(const struct command *cmd, const char *state, const char *message,
                     const char *column, struct api_error *err)
{
    if (command_map_sqlstate(state, message, column, err) == 0)
        return false;
    log_debug("command rejected", "stmt=%s code=%s", cmd->stmt, err->code);
    return true;
}

/* The error for a command the database refused in a batch: a business error or an internal
 * one. */
static int refused(const struct command *cmd, const char *state, const char *message,
                   const char *column, struct api_error *err)
{
    char q[300];

    if (rejected(cmd, state, message, column, err))
        return -1;
    log_error("statement failed", "sqlstate=%s error=%s", state != NULL ? state : "-",
              log_quote(q, sizeof q, message != NULL ? message : ""));
    return api_error_set(err, API_INTERNAL, "internal", "internal error");
}

/* Runs stmt with params and answers with its row: (body, event ids, id for logs[, replayed]).
 * key is the request's Idempotency-Key or NULL (params[0] then). */
static int run_statement(const struct apiserver_ctx *ctx, const struct command *cmd,
                         const char *trace_id, const char *path, const char *key, const char *stmt,
                         int nparams, const char *const *params, struct http_response *resp,
                         struct api_error *err)
{
    char detail[256];
    PGconn *conn;
    PGresult *res;
    int rc = -1;

    conn = pg_pool_acquire(ctx->pool, detail, sizeof detail);
    if (conn == NULL)
        return apiserver_unavailable(detail, err);
    res = PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0);
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
        struct answer_row row = {
            .body = PQgetvalue(res, 0, 0),
            .len = (size_t)PQgetlength(res, 0, 0),
            .tokens = PQgetvalue(res, 0, 1),
            .id = PQgetisnull(res, 0, 2) ? NULL : PQgetvalue(res, 0, 2),
            .replayed = PQnfields(res) > 3 && strcmp(PQgetvalue(res, 0, 3), "t") == 0,
        };
        rc = answer(cmd, trace_id, path, key, &row, resp);
    } else {
        if (!rejected(cmd, PQresultErrorField(res, PG_DIAG_SQLSTATE),
                      PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY),
                      PQresultErrorField(res, PG_DIAG_COLUMN_NAME), err))
            apiserver_db_error(conn, res, err);
    }
    PQclear(res);
    pg_pool_release(ctx->pool, conn);
    return rc;
}

/* A create-order through the next batch (orderbatch.h). Returns 1 when the order must run alone
 * (the caller runs it as any other command), else the answer's 0 or -1. */
static int run_batched(const struct command_config *cfg, const struct command *cmd,
                       const char *trace_id, const char *path, const char *key,
                       const struct orderbatch_order *order, struct http_response *resp,
                       struct api_error *err)
{
    struct orderbatch_result r;
    int rc = 1;

    orderbatch_run(cfg->orders, order, &r);
    switch (r.outcome) {
    case ORDERBATCH_ALONE:
        break;
    case ORDERBATCH_ANSWERED: {
        struct answer_row row = {r.answer, r.answer_len, r.tokens, r.id, r.replayed};
        rc = answer(cmd, trace_id, path, key, &row, resp);
        break;
    }
    case ORDERBATCH_REFUSED:
        rc = refused(cmd, r.err_state, r.err_message, r.err_column, err);
        break;
    case ORDERBATCH_UNAVAILABLE:
        rc = apiserver_unavailable(r.err_message != NULL ? r.err_message : "", err);
        break;
    }
    orderbatch_result_clear(&r);
    return rc;
}

int command_run(const struct apiserver_ctx *ctx, const struct command *cmd,
                const struct http_request *req, const struct route_match *m,
                struct http_response *resp, struct api_error *err)
{
    const struct command_config *cfg = ctx->ext;
    const char *body = req->body_len > 0 ? req->body : "{}";
    char id_text[24] = "", ttl_text[24];
    char traceparent[TRACING_TRACEPARENT_LEN + 1], trace_id[TRACING_TRACE_ID_LEN + 1];
    const char *key, *sent = NULL;
    int rc;

    if (idempotency_key_get(req, &key, err) != 0)
        return -1;
    if (cmd->validate != NULL && cmd->validate(req->body, req->body_len, err) != 0)
        return -1;
    if (cmd->takes_id)
        snprintf(id_text, sizeof id_text, "%lld", m->ids[0]);
    /* the client's trace when it sent exactly one valid traceparent, else a new trace starts
     * here (docs/observability.md); its events carry it to the relay and the consumer */
    if (http_request_header_count(req, "traceparent", &sent) == 1 &&
        tracing_traceparent_valid(sent))
        snprintf(traceparent, sizeof traceparent, "%s", sent);
    else
        tracing_traceparent_new(traceparent);
    tracing_trace_id(traceparent, trace_id);
    if (key == NULL) {
        const char *params[3] = {body, cmd->takes_id ? id_text : traceparent, traceparent};
        if (cmd->batched && cfg != NULL && cfg->orders != NULL) {
            struct orderbatch_order o = {body, req->body_len > 0 ? req->body_len : 2, traceparent,
                                         NULL, NULL};
            rc = run_batched(cfg, cmd, trace_id, req->path, NULL, &o, resp, err);
            if (rc != 1)
                return rc;
        }
        return run_statement(ctx, cmd, trace_id, req->path, NULL, cmd->stmt, cmd->takes_id ? 3 : 2,
                             params, resp, err);
    }

    /* the path as routed: the router tolerates one trailing slash, the hash should too */
    char *path = xstrdup(req->path);
    size_t n = strlen(path);
    if (n > 1 && path[n - 1] == '/')
        path[n - 1] = '\0';
    snprintf(ttl_text, sizeof ttl_text, "%ld", cfg != NULL ? cfg->idempotency_ttl_s : 86400L);
    const char *params[9] = {
        key,
        ttl_text,
        req->method,
        path,
        cmd->name != NULL ? cmd->name : cmd->stmt,
        cmd->takes_id ? id_text : NULL,
        body,
        cmd->id_field,
        traceparent,
    };
    rc = 1;
    if (cmd->batched && cfg != NULL && cfg->orders != NULL) {
        struct orderbatch_order o = {body, req->body_len > 0 ? req->body_len : 2, traceparent, key,
                                     path};
        rc = run_batched(cfg, cmd, trace_id, path, key, &o, resp, err);
    }
    if (rc == 1)
        rc = run_statement(ctx, cmd, trace_id, path, key,
                           cmd->idempotent_stmt != NULL ? cmd->idempotent_stmt : "idempotent", 9,
                           params, resp, err);
    free(path);
    return rc;
}

int command_route(void *ctx, const struct http_request *req, const struct route_match *m,
                  struct http_response *resp, struct api_error *err)
{
    return command_run(ctx, m->route->arg, req, m, resp, err);
}
