/* service: the query API's own state (ctx->ext) and the apiserver hooks that start, stop and
 * free it with the server: the one parking lot of its suspended connections
 * (lib/http/parking.h), the one notifier thread and LISTEN connection (notifier.h) that wakes
 * them, the mood board's stream (mood.h), the dashboard's (dashboard.h), the read-your-writes
 * waits (consistency.h, configured by CONSISTENCY_WAIT_MS) and the answer cache of the GETs by
 * id (lib/http/respcache.h, QUERY_CACHE_ENTRIES and QUERY_CACHE_BYTES), which the notifier keeps
 * informed (docs/api.md#caching). When QUERY_LISTEN_DATABASE_URL names another database than the
 * query URL (the read DB's primary, the queries going to a streaming replica of it), the notifier
 * LISTENs there and holds what it brings until the replica has replayed it (replica.h). */
#ifndef CQ_QUERY_SERVICE_H
#define CQ_QUERY_SERVICE_H

#include "base/config.h"

#include "service/apiserver.h"

struct query_service {
    long consistency_wait_ms;        /* CONSISTENCY_WAIT_MS */
    long consistency_per_ip_limit;   /* CONSISTENCY_PER_IP_LIMIT */
    long cache_entries;              /* QUERY_CACHE_ENTRIES: 0 disables the cache */
    long cache_bytes;                /* QUERY_CACHE_BYTES */
    const char *listen_database_url; /* QUERY_LISTEN_DATABASE_URL: "" = the query URL */
    struct replica *replica;         /* NULL unless the notifier LISTENs elsewhere (replica.h) */
    struct respcache *cache;         /* NULL when disabled */
    struct query_cache_metrics *cache_metrics;
    struct parking *lot;       /* every suspended connection: streams and waits */
    struct notifier *notifier; /* the one LISTEN connection and the thread that wakes them */
    struct mood *mood;
    struct consistency_hub *consistency;
    struct dashboard *dashboard; /* the operations dashboard (dashboard.h) */
};

/* The variables query_service reads (--help, lib/service/cli.h). */
extern const struct config_table query_service_config_table;

int query_service_start(struct apiserver_ctx *ctx);
void query_service_stop(struct apiserver_ctx *ctx);
void query_service_release(struct apiserver_ctx *ctx);

#endif
