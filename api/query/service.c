#include "service.h"

#include "config.h"
#include "consistency.h"
#include "dashboard.h"
#include "log.h"
#include "mood.h"
#include "xalloc.h"

#include <stddef.h>
#include <stdlib.h>

static const struct config_var query_service_vars[] = {
    /* how long a query with X-Consistency-Token waits for the read model before 504 */
    {"CONSISTENCY_WAIT_MS", CONFIG_INT, "5000", offsetof(struct query_service, consistency_wait_ms),
     0, 60000},
    /* how many of those one client address may have waiting at once (429 beyond) */
    {"CONSISTENCY_PER_IP_LIMIT", CONFIG_INT, "32",
     offsetof(struct query_service, consistency_per_ip_limit), 0, 65536},
};
const struct config_table query_service_config_table = CONFIG_TABLE(query_service_vars);

int query_service_start(struct apiserver_ctx *ctx)
{
    struct query_service *qs = xcalloc(1, sizeof *qs);
    char err[256];

    if (config_load(qs, query_service_vars, query_service_config_table.n, err, sizeof err) != 0) {
        log_error("invalid configuration", "error=\"%s\"", err);
        free(qs);
        return -1;
    }
    qs->mood = mood_start(ctx);
    if (qs->mood == NULL) {
        free(qs);
        return -1;
    }
    struct consistency_opts opts = {
        .dsn = ctx->cfg->database_url,
        .app = "query-api-consistency-watch",
        .wait_ms = qs->consistency_wait_ms,
        /* parked requests hold connections; the mood streams may hold 3/4 of them */
        .max_waiters = (size_t)ctx->cfg->connection_limit / 8 + 1,
        .per_ip_waiters = (size_t)qs->consistency_per_ip_limit,
    };
    qs->consistency = consistency_start(&opts, err, sizeof err);
    if (qs->consistency == NULL) {
        log_error("could not start read-your-writes", "error=\"%s\"", err);
        mood_stop(qs->mood);
        mood_free(qs->mood);
        free(qs);
        return -1;
    }
    qs->dashboard = dashboard_start(ctx);
    if (qs->dashboard == NULL) {
        consistency_stop(qs->consistency);
        consistency_free(qs->consistency);
        mood_stop(qs->mood);
        mood_free(qs->mood);
        free(qs);
        return -1;
    }
    ctx->ext = qs;
    return 0;
}

void query_service_stop(struct apiserver_ctx *ctx)
{
    struct query_service *qs = ctx->ext;

    if (qs == NULL)
        return;
    consistency_stop(qs->consistency);
    mood_stop(qs->mood);
    dashboard_stop(qs->dashboard);
}

void query_service_release(struct apiserver_ctx *ctx)
{
    struct query_service *qs = ctx->ext;

    if (qs == NULL)
        return;
    consistency_free(qs->consistency);
    mood_free(qs->mood);
    dashboard_free(qs->dashboard);
    free(qs);
    ctx->ext = NULL;
}
