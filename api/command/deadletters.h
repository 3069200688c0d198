/* deadletters: the dead-letter actions of the dashboard's panel, as commands of the command API.
 *   POST /api/dead-letters/{eventId}/requeue   back to the read-model queue, fresh attempt count
 *   POST /api/dead-letters/{eventId}/drop      deleted for good
 *   OPTIONS on both                            CORS preflight
 *
 * The command acts on the broker's dead-letter queue directly (lib/mq/dlq.h, the same code as
 * scripts/deadletters.sh): a dead letter is a broker message, not a row of the write DB, and the
 * write side's guarantees (one transaction per command, the outbox) concern domain events only.
 * The broker is the only copy: a requeued message is confirmed by the broker before the dead one
 * is acked, so a failure leaves it in the queue (maybe twice: the read DB drops a second copy by
 * event id). Then the command publishes a notice (routing key deadletter.DeadLetterRequeued or
 * deadletter.DeadLetterDropped, persistent, confirmed; not an event: no outbox row) with
 * {"eventId", "status", "at"}, which the consumer stores in the read DB's dead_letters
 * (mark_dead_letter), so the panel learns it through the broker like everything it shows.
 * Answers: 200 {"eventId", "status": "requeued" | "dropped"}; 404 not_found when no dead letter
 * has that event id; 503 unavailable when the broker cannot be reached (BROKER_URL unset: the
 * actions are off).
 *
 * The panel runs in the query API's origin: these routes answer CORS for the origins in
 * DASHBOARD_ORIGINS (comma-separated; default the query API's local origins
 * http://127.0.0.1:$QUERY_SERVICE_PORT and http://localhost:$QUERY_SERVICE_PORT), preflight
 * included (Authorization may be sent). The token is checked here, not by the authorize hook,
 * so that a 401 carries the CORS headers too and the page can read it and ask for the token. */
#ifndef CQ_COMMAND_DEADLETTERS_H
#define CQ_COMMAND_DEADLETTERS_H

#include "base/config.h"

#include "service/apiserver.h"
#include "http/router.h"

#include <stdbool.h>

struct dl_actions;

/* Reads BROKER_URL, DASHBOARD_ORIGINS and QUERY_SERVICE_PORT (dl_config_table), and AMQP_EXCHANGE,
 * AMQP_QUEUE and MOOD_QUEUE (lib/domain's domain_names_table). NULL (logged) on a bad value. */
struct dl_actions *dl_actions_new(void);
void dl_actions_free(struct dl_actions *a);

/* Whether origin is allowed (exposed for tests). */
bool dl_actions_origin_allowed(const struct dl_actions *a, const char *origin);

int dl_post_requeue(void *ctx, const struct http_request *req, const struct route_match *m,
                    struct http_response *resp, struct api_error *err);
int dl_post_drop(void *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp, struct api_error *err);
int dl_options(void *ctx, const struct http_request *req, const struct route_match *m,
               struct http_response *resp, struct api_error *err);

/* The variables the dead-letter actions read (--help, lib/service/cli.h). */
extern const struct config_table dl_config_table;

#endif
