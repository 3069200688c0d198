/* consistency: read-your-writes on demand for the query API.
 *
 * A command answers with the ids of the events it wrote (X-Consistency-Token: id[,id...]). A
 * query that sends them back is answered only once the read model includes every one of them
 * (they are all in processed_events), waiting at most CONSISTENCY_WAIT_MS; then it is 504
 * consistency_timeout. A token that is not 1..16 comma-separated UUIDs is 400 validation_error.
 *
 * Waiting holds no pool thread: the handler checks (SELECT q_events_applied($1)), and when
 * something is missing parks the request (http_request_suspend) in a struct consistency_hub. A
 * thread with its own read-DB connection LISTENs on channel events_applied (notified once per
 * transaction that records events, migrations/read/0005_consistency.sql); each notification
 * resumes every parked request, which checks again. The same thread resumes requests whose
 * deadline passed, for their final check and 504. No wake-up is lost: the hub counts
 * notifications, a request notes the count before it checks, and it is parked only if no
 * notification came in meanwhile (else it checks again at once). After a (re)connect of the
 * listening connection every parked request checks again, since notifications may have been
 * missed while it was down. The same thread hands every notification's payload (the keys the
 * transaction changed, migrations/read/0018_cache_invalidation.sql) and the state of its
 * connection to the answer cache (service.c), so the query API has one LISTEN connection.
 *
 * Threads: handlers run in MHD's pool threads; the hub's mutex is held across suspend and
 * resume, so a request is resumed exactly once per park and never after it completed. On stop,
 * the hub is closed (parked requests are resumed and answer 503, new ones too) and drained
 * before the HTTP server stops (MHD must not be stopped with suspended connections). */
#ifndef CQ_QUERY_CONSISTENCY_H
#define CQ_QUERY_CONSISTENCY_H

#include "http/api_error.h"
#include "http/http.h"

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONSISTENCY_HEADER "X-Consistency-Token"
#define CONSISTENCY_CHANNEL "events_applied"
#define CONSISTENCY_MAX_IDS 16
#define CONSISTENCY_PER_IP_RETRY_S 1
#define CONSISTENCY_UUID_LEN 36
/* "{" + 16 ids + 15 commas + "}" + NUL */
#define CONSISTENCY_ARRAY_MAX (CONSISTENCY_MAX_IDS * (CONSISTENCY_UUID_LEN + 1) + 2)

struct consistency_token {
    size_t n;
    char ids[CONSISTENCY_MAX_IDS][CONSISTENCY_UUID_LEN + 1]; /* lower case */
};

/* Parses a header value: 1..16 UUIDs (8-4-4-4-12 hex digits, any case) separated by commas,
 * optionally with spaces or tabs around each. Returns 0, or -1 with err (400 validation_error
 * naming X-Consistency-Token). */
int consistency_token_parse(const char *value, struct consistency_token *tok,
                            struct api_error *err);
/* Writes tok as a PostgreSQL array literal: {id,id}. len >= CONSISTENCY_ARRAY_MAX. */
void consistency_token_array(const struct consistency_token *tok, char *buf, size_t len);

/* --- the hub: parked requests, woken by notifications, deadlines or close --------------------- */

struct consistency_hub;
struct consistency_wait; /* one request's wait: its token, deadline and place in the hub */

/* max_waiters: more parked requests at once are refused (503), so that parked connections
 * never take every connection. */
struct consistency_hub *consistency_hub_new(size_t max_waiters);
/* Only after the HTTP server stopped (no wait is left then). */
void consistency_hub_free(struct consistency_hub *h);
/* For tests: replace http_connection_suspend and http_connection_resume. */
void consistency_hub_set_conn_ops(struct consistency_hub *h,
                                  void (*suspend)(struct MHD_Connection *),
                                  void (*resume)(struct MHD_Connection *));
/* Called (hub mutex held, must not block) when a request is parked with a deadline earlier than
 * the one the watch thread sleeps until, as returned by consistency_hub_expire. */
void consistency_hub_set_waker(struct consistency_hub *h, void (*wake)(void *cls), void *cls);

/* A new wait for tok, due at deadline_ms (CLOCK_MONOTONIC ms). Owned by the request: freed by
 * consistency_wait_free (its http_request_set_state free function), which also unparks it. */
struct consistency_wait *consistency_wait_new(struct consistency_hub *h,
                                              const struct consistency_token *tok,
                                              long long deadline_ms);
void consistency_wait_free(void *w);
/* The client address the wait counts against (see consistency_hub_set_per_ip_limit). */
void consistency_wait_set_client(struct consistency_wait *w, const char *client);
/* At most per_ip parked requests of one client address (0: no limit, the default); more are
 * CONSISTENCY_PER_IP_FULL. */
void consistency_hub_set_per_ip_limit(struct consistency_hub *h, size_t per_ip);
const char *consistency_wait_array(const struct consistency_wait *w); /* {id,...} */
long long consistency_wait_deadline(const struct consistency_wait *w);

/* The number of notifications so far. */
uint64_t consistency_hub_seq(struct consistency_hub *h);

enum consistency_park {
    CONSISTENCY_PARKED,      /* suspended; the handler returns HTTP_SUSPENDED */
    CONSISTENCY_RECHECK,     /* a notification came after seen: check again now */
    CONSISTENCY_CLOSED,      /* shutting down: 503 */
    CONSISTENCY_FULL,        /* max_waiters parked already: 503 */
    CONSISTENCY_PER_IP_FULL, /* the client address has per_ip parked already: 429 */
};
/* Parks w's request (conn) unless the hub's sequence moved past seen. From the handler only. */
enum consistency_park consistency_hub_park(struct consistency_hub *h, struct consistency_wait *w,
                                           struct MHD_Connection *conn, uint64_t seen);
/* Counts a notification and resumes every parked request. */
void consistency_hub_notify(struct consistency_hub *h);
/* Resumes the parked requests whose deadline is <= now_ms; returns the earliest deadline of
 * those still parked, or -1 when none is. */
long long consistency_hub_expire(struct consistency_hub *h, long long now_ms);
/* Resumes every parked request and refuses new parks. */
void consistency_hub_close(struct consistency_hub *h);
/* Waits up to timeout_ms until no wait exists (every request that had one completed). */
bool consistency_hub_wait_idle(struct consistency_hub *h, long timeout_ms);
size_t consistency_hub_parked(struct consistency_hub *h);

/* --- the service: hub + LISTEN thread ----------------------------------------------------------
 */

struct consistency;

struct consistency_opts {
    const char *dsn; /* must outlive the service */
    const char *app; /* application_name of the listening connection */
    long wait_ms;    /* CONSISTENCY_WAIT_MS */
    size_t max_waiters;
    size_t per_ip_waiters; /* CONSISTENCY_PER_IP_LIMIT: parked requests per client address */
    /* Optional, called in the LISTEN thread (the one LISTEN connection of the query API also
     * feeds its answer cache, docs/api.md#caching): on_listen(cls, conn) right after LISTEN
     * succeeded, and on_listen(cls, NULL) when the connection is lost or the thread stops;
     * on_payload(cls, payload) for each notification, before the waits are woken. */
    void (*on_listen)(void *cls, PGconn *conn);
    void (*on_payload)(void *cls, const char *payload);
    void *cls;
};

/* Starts the LISTEN thread (which keeps trying while the database is down). NULL with err. */
struct consistency *consistency_start(const struct consistency_opts *opts, char *err,
                                      size_t errlen);
/* Stops the thread, closes the hub and waits (up to 2 s) for parked requests to answer. */
void consistency_stop(struct consistency *c);
/* After the HTTP server stopped. */
void consistency_free(struct consistency *c);

/* Milliseconds of CLOCK_MONOTONIC. */
long long consistency_now_ms(void);

/* The query side: run in a handler, before its query, with a pool connection (the statement
 * "events_applied" prepared: SELECT q_events_applied($1::uuid[])).
 * Returns 0 when the request has no token or the read model has all its events (go on with the
 * query), HTTP_SUSPENDED when it was parked (release conn, return HTTP_SUSPENDED), -1 with err
 * (400 bad token, 504 timeout, 503, or a failed statement), or -2 when conn broke (err not set;
 * retry with another connection). */
int consistency_gate(struct consistency *c, PGconn *conn, const struct http_request *req,
                     struct api_error *err);

#endif
