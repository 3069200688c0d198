/* consistency_gate: the handler side of read-your-writes (consistency.h): check, park, answer. */
#include "consistency.h"

#include "base/deadline.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "service/apiserver.h"

#include <stdlib.h>
#include <string.h>

/* The request's state across its calls (http_request_set_state). */
struct gate {
    struct consistency_wait *w;
    bool done; /* the read model had every event: no more checks */
    long long started_ms;
};

static void gate_free(void *p)
{
    struct gate *g = p;

    if (g == NULL)
        return;
    consistency_wait_free(g->w);
    free(g);
}

/* A new gate for req, or -1 with err (bad token, hub not running); 1 when req has no token. */
static int gate_new(struct consistency_hub *h, const struct http_request *req,
                    struct api_error *err, struct gate **out)
{
    struct consistency_token tok;
    const char *value;
    unsigned count = http_request_header_count(req, CONSISTENCY_HEADER, &value);
    struct gate *g;

    if (count == 0)
        return 1;
    if (count > 1)
        return api_error_field(err, CONSISTENCY_HEADER, "must be sent once, not %u times", count);
    if (consistency_token_parse(value != NULL ? value : "", &tok, err) != 0)
        return -1;
    if (h == NULL)
        return api_error_set(err, API_UNAVAILABLE, "unavailable",
                             "read-your-writes is not running, retry later");
    g = xcalloc(1, sizeof *g);
    g->started_ms = deadline_now_ms();
    g->w = consistency_wait_new(h, &tok, g->started_ms + consistency_hub_wait_ms(h));
    consistency_wait_set_client(g->w, req->client);
    http_request_set_state(req, g, gate_free);
    *out = g;
    return 0;
}

static int parked_answer(enum consistency_park p, struct api_error *err)
{
    switch (p) {
    case CONSISTENCY_PARKED:
        return HTTP_SUSPENDED;
    case CONSISTENCY_CLOSED:
        return api_error_set(err, API_UNAVAILABLE, "unavailable",
                             "the server is shutting down, retry later");
    case CONSISTENCY_FULL:
        return api_error_set(err, API_UNAVAILABLE, "unavailable",
                             "too many requests are waiting for their writes, retry later");
    case CONSISTENCY_PER_IP_FULL:
    default:
        return api_error_rate_limited(err, CONSISTENCY_PER_IP_RETRY_S,
                                      "too many requests of this address are waiting for "
                                      "their writes");
    }
}

int consistency_gate(struct consistency_hub *h, PGconn *conn, const struct http_request *req,
                     struct api_error *err)
{
    struct gate *g = http_request_get_state(req);

    if (g == NULL) {
        int rc = gate_new(h, req, err, &g);
        if (rc != 0)
            return rc == 1 ? 0 : rc;
    }
    if (g->done)
        return 0;
    for (;;) {
        uint64_t seen = consistency_hub_seq(h);
        const char *params[] = {consistency_wait_array(g->w)};
        PGresult *res = PQexecPrepared(conn, "events_applied", 1, params, NULL, NULL, 0);
        bool applied;

        if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
            int rc = PQstatus(conn) != CONNECTION_OK ? -2 : apiserver_db_error(conn, res, err);
            PQclear(res);
            return rc;
        }
        applied = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
        PQclear(res);
        if (applied) {
            g->done = true;
            log_debug("read model caught up", "waited_ms=%lld", deadline_now_ms() - g->started_ms);
            return 0;
        }
        if (deadline_now_ms() >= consistency_wait_deadline(g->w)) {
            log_info("consistency wait timed out", "waited_ms=%lld token=%s",
                     deadline_now_ms() - g->started_ms, params[0]);
            return api_error_set(err, API_TIMEOUT, "consistency_timeout",
                                 "the read model did not include the events of "
                                 "X-Consistency-Token within %ld ms; retry later",
                                 consistency_hub_wait_ms(h));
        }
        enum consistency_park p = consistency_hub_park(h, g->w, req->conn, seen);
        if (p != CONSISTENCY_RECHECK)
            return parked_answer(p, err);
    }
}
