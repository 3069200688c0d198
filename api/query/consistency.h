/* consistency: read-your-writes on demand for the query API.
 *
 * A command answers with the ids of the events it wrote (X-Consistency-Token: id[,id...]). A
 * query that sends them back is answered only once the read model includes every one of them
 * (they are all in processed_events), waiting at most CONSISTENCY_WAIT_MS; then it is 504
 * consistency_timeout. A token that is not 1..16 comma-separated UUIDs is 400 validation_error.
 *
 * Waiting holds no pool thread: the handler checks (SELECT q_events_applied($1)), and when
 * something is missing parks the request in the query API's one parking lot
 * (lib/http/parking.h) with its deadline, through a struct consistency_hub. The query API's one
 * notifier thread (notifier.h), which LISTENs on channel events_applied (notified once per
 * transaction that records events, migrations/read/functions/35_notify.sql), counts each
 * notification (consistency_hub_count) and then checks the parked waits' tokens in one query of
 * its own (consistency_hub_wake_applied): only the waits whose events are all applied are woken,
 * and check again. The lot wakes a wait whose deadline passed, for its final check and 504. No
 * wake-up is lost: the hub counts notifications, a request notes the count before it checks,
 * and it is parked only if no notification came in meanwhile (else it checks again at once).
 * After a (re)connect of the listening connection, or when the notifier's check fails, every
 * parked request is woken and checks again (consistency_hub_notify), since notifications may
 * have been missed.
 *
 * Threads: handlers run in MHD's pool threads; the hub's mutex is held across the decision to
 * park and the park, and across the counting of a notification, so no wake-up slips between
 * them; the lot resumes a request exactly once per park and never after it completed. On stop,
 * the hub is closed (parked requests are woken and answer 503, new ones too) and drained before
 * the HTTP server stops (MHD must not be stopped with suspended connections). */
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

struct parking;

/* --- the token (consistency_token.c) ---------------------------------------------------------- */

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

/* --- the hub: waits parked in a lot, woken when applied, by deadline or close (consistency.c) - */

struct consistency_hub;
struct consistency_wait; /* one request's wait: its token, deadline and spot in the lot */

/* Waits park in lot (which must outlive the hub). max_waiters: more parked requests at once are
 * refused (503), so that parked connections never take every connection. */
struct consistency_hub *consistency_hub_new(struct parking *lot, size_t max_waiters);
/* Only after the HTTP server stopped (no wait is left then). */
void consistency_hub_free(struct consistency_hub *h);
/* CONSISTENCY_WAIT_MS: how long a request waits (default 5000). */
void consistency_hub_set_wait_ms(struct consistency_hub *h, long wait_ms);
long consistency_hub_wait_ms(struct consistency_hub *h);
/* At most per_ip parked requests of one client address (0: no limit, the default); more are
 * CONSISTENCY_PER_IP_FULL. */
void consistency_hub_set_per_ip_limit(struct consistency_hub *h, size_t per_ip);

/* A new wait for tok, due at deadline_ms (deadline_now_ms). Owned by the request: freed by
 * consistency_wait_free (its http_request_set_state free function), which also unparks it. */
struct consistency_wait *consistency_wait_new(struct consistency_hub *h,
                                              const struct consistency_token *tok,
                                              long long deadline_ms);
void consistency_wait_free(void *w);
/* The client address the wait counts against (see consistency_hub_set_per_ip_limit). */
void consistency_wait_set_client(struct consistency_wait *w, const char *client);
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
/* Counts a notification: a request checking now will check again instead of parking. */
void consistency_hub_count(struct consistency_hub *h);
/* Counts a notification and wakes every parked request (after a reconnect: anything may have
 * been applied meanwhile). */
void consistency_hub_notify(struct consistency_hub *h);

/* Which of n tokens (PostgreSQL array literals) have every event applied: sets applied[i];
 * returns 0, or -1 when it could not tell (then every parked request is woken to check itself). */
typedef int (*consistency_check_fn)(void *cls, const char *const *arrays, size_t n, bool *applied);
/* Checks the tokens of the waits alive now with check, and wakes exactly the parked ones whose
 * events are applied. Returns the number woken. */
size_t consistency_hub_wake_applied(struct consistency_hub *h, consistency_check_fn check,
                                    void *cls);

/* Wakes every parked request and refuses new parks. */
void consistency_hub_close(struct consistency_hub *h);
/* Waits up to timeout_ms until no wait exists (every request that had one completed). */
bool consistency_hub_wait_idle(struct consistency_hub *h, long timeout_ms);
size_t consistency_hub_parked(struct consistency_hub *h);

/* --- the handler side (consistency_gate.c) --------------------------------------------------- */

/* Run in a handler, before its query, with a pool connection (the statement "events_applied"
 * prepared: SELECT q_events_applied($1::uuid[])); h NULL when read-your-writes is not running.
 * Returns 0 when the request has no token or the read model has all its events (go on with the
 * query), HTTP_SUSPENDED when it was parked (release conn, return HTTP_SUSPENDED), -1 with err
 * (400 bad token, 504 timeout, 503, or a failed statement), or -2 when conn broke (err not set;
 * retry with another connection). */
int consistency_gate(struct consistency_hub *h, PGconn *conn, const struct http_request *req,
                     struct api_error *err);

#endif
