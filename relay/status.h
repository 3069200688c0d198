/* status: the relay's status message, which tells the read side the outbox backlog and the
 * relay's state without anyone calling the relay (the two sides are joined only by events).
 *
 * While it leads, the relay publishes every RELAY_STATUS_INTERVAL_MS (default 1000; at most as
 * often as the loop turns, RELAY_POLL_INTERVAL_MS while idle) one small JSON message
 *   {"at": "2026-01-02T03:04:05.678Z", "backlog": 12, "oldestAgeMs": 340, "leader": true,
 *    "unroutable": 0, "blocked": false}
 * to the events exchange with routing key relay.RelayStatus (RELAY_STATUS_ROUTING_KEY): the
 * outbox backlog and the age of its oldest unpublished row (the relay's last count, at most a
 * second old), whether this relay leads, how many events the broker returned as unroutable since
 * the relay started, and whether the broker blocks publishing. The consumer stores it in the read
 * DB (relay_status, read 0015), where q_dashboard() reads it.
 *
 * It is not an event: no outbox row, transient (delivery_mode 1), not mandatory, and it expires
 * after RELAY_STATUS_TTL_FACTOR intervals, so a stopped consumer does not find a pile of them. It
 * goes out on a channel of its own (RELAY_STATUS_CHANNEL) of the publishing connection, not in
 * confirm mode: the confirm-mode channel's delivery tags count the outbox rows in flight
 * (inflight.h) and must not count these. Nothing is published while the broker blocks the
 * connection (a blocked broker reads nothing: the write could wait) or while the backlog has
 * not been counted yet. */
#ifndef CQ_RELAY_STATUS_H
#define CQ_RELAY_STATUS_H

#include "domain/domain.h"
#include "mq/mq.h"

#include <stdbool.h>
#include <stddef.h>

#define RELAY_STATUS_CHANNEL 2
#define RELAY_STATUS_ROUTING_KEY DOMAIN_RELAY_STATUS_KEY
#define RELAY_STATUS_TTL_FACTOR 10

struct relay_status_figures {
    long long at_ms; /* Unix time in ms */
    long long backlog;
    long long oldest_age_ms;
    bool leader;
    long long unroutable;
    bool blocked;
};

struct relay_status {
    long interval_ms;
    long long next_ms; /* mq_now_ms clock: when the next message is due */
};

void relay_status_init(struct relay_status *s, long interval_ms);

/* Opens RELAY_STATUS_CHANNEL on a new publishing connection. Returns 0 or -1 with err. */
__attribute__((warn_unused_result)) int relay_status_open(amqp_connection_state_t conn, char *err,
                                                          size_t errlen);

/* Writes f's JSON into buf. Returns its length, or -1 when len is too small. */
int relay_status_format(const struct relay_status_figures *f, char *buf, size_t len);

/* Whether a message is due at now_ms; when it is, the next one is due an interval later. */
bool relay_status_due(struct relay_status *s, long long now_ms);

/* Publishes f to exchange on RELAY_STATUS_CHANNEL. Returns 0 or -1 with err (the caller drops
 * the connection). */
__attribute__((warn_unused_result)) int relay_status_publish(const struct relay_status *s,
                                                             amqp_connection_state_t conn,
                                                             const char *exchange,
                                                             const struct relay_status_figures *f,
                                                             char *err, size_t errlen);

#endif
