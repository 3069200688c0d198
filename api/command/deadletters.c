#include "deadletters.h"

#include "auth.h"
#include "service.h"

#include "base/config.h"
#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "domain/domain.h"
#include "mq/dlq.h"
#include "mq/mq.h"
#include "service/topology.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DL_CONFIRM_TIMEOUT_MS 10000
#define DL_MAX_ORIGINS 8

struct dl_config {
    const char *broker_url; /* "" : the actions are off (503) */
    const char *origins;
    long query_port;
};

struct dl_actions {
    struct dl_config cfg;
    bool broker_ok;
    struct mq_broker broker;
    struct mq_topology topo;
    char origin_buf[1024];
    const char *origins[DL_MAX_ORIGINS];
    int norigins;
};

/* Splits a->origin_buf (comma-separated) into a->origins. */
static int split_origins(struct dl_actions *a, char *err, size_t errlen)
{
    char *save = NULL;

    for (char *tok = strtok_r(a->origin_buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ')
            tok++;
        size_t n = strlen(tok);
        while (n > 0 && tok[n - 1] == ' ')
            tok[--n] = '\0';
        if (n == 0)
            continue;
        if (a->norigins == DL_MAX_ORIGINS ||
            (strncmp(tok, "http://", 7) != 0 && strncmp(tok, "https://", 8) != 0)) {
            snprintf(err, errlen,
                     "invalid value for DASHBOARD_ORIGINS: expected up to %d origins such as "
                     "http://127.0.0.1:8081, comma-separated",
                     DL_MAX_ORIGINS);
            return -1;
        }
        a->origins[a->norigins++] = tok;
    }
    return 0;
}

#define OFF(f) offsetof(struct dl_config, f)
static const struct config_var dl_vars[] = {
    /* the dead-letter actions reach the broker; "" turns them off (503) */
    {"BROKER_URL", CONFIG_STRING, "", OFF(broker_url), 0, 0},
    /* the dashboard's origins, allowed by CORS on the dead-letter routes; "" : the query
     * API's local origins */
    {"DASHBOARD_ORIGINS", CONFIG_STRING, "", OFF(origins), 0, 0},
    {"QUERY_SERVICE_PORT", CONFIG_INT, "8081", OFF(query_port), 1, 65535},
};
#undef OFF
const struct config_table dl_config_table = CONFIG_TABLE(dl_vars);

struct dl_actions *dl_actions_new(void)
{
    struct dl_actions *a = xcalloc(1, sizeof *a);
    struct domain_names names;
    char err[512];

    if (config_load(&a->cfg, dl_vars, dl_config_table.n, err, sizeof err) != 0 ||
        domain_names_load(&names, err, sizeof err) != 0)
        goto fail;
    if (a->cfg.origins[0] != '\0')
        snprintf(a->origin_buf, sizeof a->origin_buf, "%s", a->cfg.origins);
    else
        snprintf(a->origin_buf, sizeof a->origin_buf, "http://127.0.0.1:%ld,http://localhost:%ld",
                 a->cfg.query_port, a->cfg.query_port);
    if (split_origins(a, err, sizeof err) != 0)
        goto fail;
    if (svc_topology_init(&a->topo, &names, err, sizeof err) != 0)
        goto fail;
    if (a->cfg.broker_url[0] != '\0') {
        char detail[400];
        if (mq_broker_parse(&a->broker, a->cfg.broker_url, detail, sizeof detail) != 0) {
            snprintf(err, sizeof err, "BROKER_URL: %s", detail);
            goto fail;
        }
        a->broker_ok = true;
    }
    log_info("dead-letter actions", "broker=%s origins=%d", a->broker_ok ? "on" : "off",
             a->norigins);
    return a;
fail:
    log_error("invalid configuration", "error=\"%s\"", err);
    free(a);
    return NULL;
}

void dl_actions_free(struct dl_actions *a)
{
    if (a == NULL)
        return;
    if (a->broker_ok)
        mq_broker_release(&a->broker);
    free(a);
}

bool dl_actions_origin_allowed(const struct dl_actions *a, const char *origin)
{
    if (a == NULL || origin == NULL)
        return false;
    for (int i = 0; i < a->norigins; i++)
        if (strcmp(a->origins[i], origin) == 0)
            return true;
    return false;
}

static const struct dl_actions *actions_of(void *ctx)
{
    const struct apiserver_ctx *c = ctx;
    const struct command_config *cfg = c->ext;

    return cfg != NULL ? cfg->dl : NULL;
}

/* The CORS headers for an allowed Origin (none for another). */
static void cors_headers(const struct dl_actions *a, const struct http_request *req,
                         struct http_response *resp)
{
    const char *origin = http_request_header(req, "Origin");

    (void)http_response_header(resp, "Vary", "Origin");
    if (dl_actions_origin_allowed(a, origin))
        (void)http_response_header(resp, "Access-Control-Allow-Origin", origin);
}

/* An error answered by the handler itself, so that it keeps the CORS headers (an error returned
 * to lib/http/http is answered without them). */
static int cors_error(const struct dl_actions *a, const struct http_request *req,
                      struct http_response *resp, const struct api_error *err)
{
    size_t len;
    char *body = api_error_json(err, &len);

    http_response_json(resp, api_status_http(err->kind), body, len);
    if (err->kind == API_UNAUTHORIZED)
        (void)http_response_header(resp, "WWW-Authenticate", "Bearer");
    cors_headers(a, req, resp);
    return 0;
}

int dl_options(void *ctx, const struct http_request *req, const struct route_match *m,
               struct http_response *resp, struct api_error *err)
{
    const struct dl_actions *a = actions_of(ctx);

    (void)m;
    (void)err;
    http_response_static(resp, 204, "text/plain", "", 0);
    cors_headers(a, req, resp);
    if (dl_actions_origin_allowed(a, http_request_header(req, "Origin"))) {
        (void)http_response_header(resp, "Access-Control-Allow-Methods", "POST, OPTIONS");
        (void)http_response_header(resp, "Access-Control-Allow-Headers",
                                   "Authorization, Content-Type");
        (void)http_response_header(resp, "Access-Control-Max-Age", "600");
    }
    return 0;
}

/* Publishes the notice of what was done to event_id (see deadletters.h). */
static int publish_notice(amqp_connection_state_t conn, uint64_t *next_tag,
                          const struct mq_topology *t, const char *event_id, const char *status,
                          char *err, size_t errlen)
{
    amqp_basic_properties_t props;
    char body[400], key[64], at[40];
    long long now_us = deadline_wall_us();
    time_t secs = (time_t)(now_us / 1000000);
    struct tm tm;
    int n;

    gmtime_r(&secs, &tm);
    strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%S", &tm);
    /* event_id is a router token: no character needs escaping in JSON */
    n = snprintf(body, sizeof body, "{\"eventId\":\"%s\",\"status\":\"%s\",\"at\":\"%s.%06lldZ\"}",
                 event_id, status, at, now_us % 1000000);
    snprintf(key, sizeof key, "deadletter.DeadLetter%s",
             strcmp(status, "requeued") == 0 ? "Requeued" : "Dropped");
    mq_json_props(&props);
    return mq_publish_confirmed(conn, next_tag, t->exchange, key, &props,
                                (amqp_bytes_t){.len = (size_t)n, .bytes = body},
                                DL_CONFIRM_TIMEOUT_MS, err, errlen);
}

static int act(void *ctx, const struct http_request *req, const struct route_match *m,
               struct http_response *resp, enum dlq_action action)
{
    const struct apiserver_ctx *c = ctx;
    const struct command_config *cfg = c->ext;
    const struct dl_actions *a = actions_of(ctx);
    const char *status = action == DLQ_REQUEUE ? "requeued" : "dropped";
    const char *ids[1] = {m->key};
    bool found = false;
    struct dlq_request r = {.action = action,
                            .ids = ids,
                            .nids = 1,
                            .found = &found,
                            .confirm_timeout_ms = DL_CONFIRM_TIMEOUT_MS};
    struct api_error e;
    amqp_connection_state_t conn;
    uint64_t next_tag = 1;
    long count = 0, done = 0;
    char err[512], q[600];
    int rc;

    memset(&e, 0, sizeof e);
    if (cfg != NULL && cfg->auth_mode == AUTH_TOKEN) {
        const char *header;
        unsigned n = http_request_header_count(req, "Authorization", &header);
        if (auth_check(n, header, cfg->api_token, &e) != 0) {
            log_info("request refused", "path=%s status=401", log_quote(q, sizeof q, req->path));
            return cors_error(a, req, resp, &e);
        }
    }
    if (a == NULL || !a->broker_ok) {
        api_error_set(&e, API_UNAVAILABLE, "unavailable",
                      "the dead-letter actions are off: BROKER_URL is not set");
        return cors_error(a, req, resp, &e);
    }
    conn = mq_connect(&a->broker, &a->topo, MQ_CONFIRMS, err, sizeof err);
    if (conn == NULL) {
        log_warn("could not reach the broker for a dead-letter action", "error=%s",
                 log_quote(q, sizeof q, err));
        api_error_set(&e, API_UNAVAILABLE, "unavailable", "the broker cannot be reached");
        return cors_error(a, req, resp, &e);
    }
    rc = dlq_run(conn, &next_tag, &a->topo, &r, &count, &done, err, sizeof err);
    if (rc == 0 && found)
        rc = publish_notice(conn, &next_tag, &a->topo, m->key, status, err, sizeof err);
    mq_close(conn, rc == 0);
    if (rc != 0) {
        log_warn("dead-letter action failed", "event_id=%s action=%s error=%s", m->key, status,
                 log_quote(q, sizeof q, err));
        api_error_set(&e, API_UNAVAILABLE, "unavailable", "the broker failed: %s", err);
        return cors_error(a, req, resp, &e);
    }
    if (!found) {
        api_error_set(&e, API_NOT_FOUND, "not_found", "no dead letter with event id %s", m->key);
        return cors_error(a, req, resp, &e);
    }
    log_info(action == DLQ_REQUEUE ? "requeued dead letter" : "dropped dead letter",
             "event_id=%s dead_letters=%ld", m->key, count);
    char *body = xmalloc(300);
    int len = snprintf(body, 300, "{\"eventId\":\"%s\",\"status\":\"%s\"}", m->key, status);
    http_response_json(resp, 200, body, (size_t)len);
    cors_headers(a, req, resp);
    return 0;
}

int dl_post_requeue(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err)
{
    (void)err;
    return act(ctx, req, m, resp, DLQ_REQUEUE);
}

int dl_post_drop(void *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp, struct api_error *err)
{
    (void)err;
    return act(ctx, req, m, resp, DLQ_DROP);
}
