/* mq: RabbitMQ helpers over librabbitmq-c 0.11, shared by the relay and the consumer.
 *
 * The module prefix is mq_ (librabbitmq owns amqp_), and the header is not called amqp.h: with
 * -Ilib it would shadow the library's <amqp.h>, which <amqp_tcp_socket.h> includes.
 *
 * The module knows no name of the domain: the caller names the exchange and the queues
 * (struct mq_topology). Files by job: mq.c (connections), topology.c, headers.c, frames.c
 * (frames besides confirms), confirms.c (publisher confirms).
 *
 * Every connection uses one channel, MQ_CHANNEL. A connection is not shared between threads.
 * Memory: struct mq_broker owns a copy of the URL (mq_broker_release frees it); a connection
 * returned by mq_connect*() belongs to the caller, who ends it with mq_close(). */
#ifndef CQ_MQ_H
#define CQ_MQ_H

#include "base/config.h"

#include <amqp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQ_CHANNEL 1

/* --- broker address ------------------------------------------------------------------------- */

/* The nodes of one broker (a single node, or the nodes of a RabbitMQ cluster), tried in turn by
 * mq_connect. next is the node the next connection tries first: after a connection to node i it
 * is i + 1, so a connection that was lost goes to the next node first and the lost one is tried
 * last (docs/scaling.md). Shared by the connections of one program (atomic). */
#define MQ_BROKER_MAX_NODES 8
struct mq_broker {
    char *buf; /* amqp_parse_url() works in place on this copy; nodes point into it */
    struct amqp_connection_info nodes[MQ_BROKER_MAX_NODES];
    size_t nnodes;
    _Atomic unsigned *next; /* owned: index (modulo nnodes) of the node to try first */
};

/* Parses BROKER_URL: one amqp:// URL (amqp://user:pass@host:port/vhost, percent-decoded; the vhost
 * defaults to "/"), or up to MQ_BROKER_MAX_NODES of them separated by commas, one per node of a
 * cluster (blanks around each are ignored). Returns 0, or -1 with err (which never contains the
 * URL: it may hold a password). */
__attribute__((warn_unused_result)) int mq_broker_parse(struct mq_broker *b, const char *url,
                                                        char *err, size_t errlen);
void mq_broker_release(struct mq_broker *b);

/* --- topology ------------------------------------------------------------------------------- */

/* What a program declares, named by its caller (lib/mq knows no queue of the domain: the names
 * come from lib/domain through lib/service/topology.h). Every program that touches the broker
 * fills it the same way and calls mq_declare_topology() with it, so declarations are identical
 * and idempotent.
 *
 * The work queue (bound to the exchange with queue_binding) has two queues of its own, reached
 * through the default exchange (routing key = queue name), never bound to the exchange:
 * - <queue>.retry: a quorum queue without consumers. The consumer publishes a message it could not
 *   apply here with a per-message TTL (expiration); when it expires the broker dead-letters it back
 *   to <queue> (at-least-once dead-lettering: dead-letter-strategy=at-least-once, which needs
 *   overflow=reject-publish). Quorum queues pause now and then (MACHINE-NOTES), which costs nothing
 *   on this low-volume path; the main queue stays classic.
 * - <queue>.dead: a classic queue holding messages that failed their last allowed attempt, with the
 *   reason in their headers (MQ_HDR_*), until scripts/deadletters.sh requeues or drops them.
 * Taps are further classic queues bound to the exchange for subscribers outside the services.
 * New queues have new names: an existing queue's arguments are never changed (a re-declaration
 * with other arguments fails with PRECONDITION_FAILED).
 *
 * AMQP_QUEUE_TYPE=quorum (a cluster, docs/scaling.md) makes every queue a quorum queue, replicated
 * by Raft over the cluster's nodes, each with an explicit x-delivery-limit: AMQP_DELIVERY_LIMIT
 * for the work queue, the taps and the retry queue, MQ_DEAD_DELIVERY_LIMIT for the dead queue
 * (every listing of dead letters returns them, and each return counts as a delivery). The work
 * queue dead-letters a message that reached its limit (a consumer that crashed on it again and
 * again) into <queue>.dead, at least once. The default, classic, declares what it always did. A
 * queue's type cannot change once declared: docs/scaling.md gives the migration.
 *
 * Partitions (CONSUMER_PARTITIONS = P > 1, mq_topology_partition): the work queue is split in P
 * queues <queue>.p0 .. <queue>.p<P-1>, each with single-active-consumer (one consumer at a time
 * receives from it, so one partition's messages are applied in order). They are bound with weight
 * 1 to <queue>.partitions, a consistent-hash exchange (the broker's plugin
 * rabbitmq_consistent_hash_exchange) that hashes the header partition_header (the aggregate id the
 * relay sets), itself bound to the exchange with queue_binding: every message of one aggregate goes
 * to one partition. The retry queue is then <queue>.partitions.retry, whose expired messages go
 * back through <queue>.partitions (so to their partition: the header stays); a dead letter
 * requeued goes the same way (dlq.h). <queue> itself is not declared (an old one, from P = 1,
 * must be drained and deleted: docs/scaling.md). */
#define MQ_DEAD_DELIVERY_LIMIT 1000000
#define MQ_MAX_PARTITIONS 256
#define MQ_TOPOLOGY_MAX_TAPS 4
struct mq_binding {
    const char *queue;
    const char *binding; /* the routing pattern that binds it to the exchange */
};
struct mq_topology {
    const char *exchange;      /* durable topic exchange */
    const char *queue;         /* the work queue */
    const char *queue_binding; /* its routing pattern */
    struct mq_binding taps[MQ_TOPOLOGY_MAX_TAPS];
    size_t ntaps;
    char retry_queue[256];        /* <queue>.retry, or <queue>.partitions.retry */
    char dead_queue[256];         /* <queue>.dead */
    long partitions;              /* P: 1 (the work queue) or more (set by mq_topology_partition) */
    const char *partition_header; /* the header the partition exchange hashes */
    char partition_exchange[256]; /* <queue>.partitions */
};

/* Fills t with the exchange and the work queue; the strings must outlive it. Returns 0, or -1 with
 * err when a derived queue name would be longer than AMQP allows (255 bytes). */
__attribute__((warn_unused_result)) int mq_topology_init(struct mq_topology *t,
                                                         const char *exchange, const char *queue,
                                                         const char *binding, char *err,
                                                         size_t errlen);
/* Adds a queue bound to the exchange with binding. Returns 0, or -1 with err when t is full. */
__attribute__((warn_unused_result)) int mq_topology_add_tap(struct mq_topology *t,
                                                            const char *queue, const char *binding,
                                                            char *err, size_t errlen);

/* Splits t's work queue in partitions queues (see above) routed on header (which must outlive t);
 * partitions 1 leaves t as it is. Returns 0, or -1 with err (partitions out
 * of 1..MQ_MAX_PARTITIONS, or a derived name too long). */
__attribute__((warn_unused_result)) int mq_topology_partition(struct mq_topology *t,
                                                              long partitions, const char *header,
                                                              char *err, size_t errlen);
/* The name of partition k of t (<queue>.p<k>) into buf. */
const char *mq_partition_queue(const struct mq_topology *t, long k, char *buf, size_t len);
/* CONSUMER_PARTITIONS, as loaded (1 when unset or invalid: mq_check_options reports it). */
long mq_partitions(void);

enum mq_queue_role {
    MQ_QUEUE_WORK,
    MQ_QUEUE_TAP,
    MQ_QUEUE_RETRY,
    MQ_QUEUE_DEAD,
    MQ_QUEUE_PARTITION
};
#define MQ_QUEUE_ARGS_MAX 8
struct mq_queue_args {
    amqp_table_entry_t entries[MQ_QUEUE_ARGS_MAX];
    amqp_table_t table; /* points into entries and the topology's names */
};
/* Fills a with the declaration arguments of the queue of t with role: quorum (else classic) with
 * delivery_limit. Pure: the caller passes the options (mq_declare_topology passes
 * AMQP_QUEUE_TYPE's and AMQP_DELIVERY_LIMIT's). */
void mq_queue_args(struct mq_queue_args *a, const struct mq_topology *t, enum mq_queue_role role,
                   bool quorum, long delivery_limit);

/* Declares the exchange, the queues and their bindings on MQ_CHANNEL. Returns 0 or -1 with err. */
__attribute__((warn_unused_result)) int mq_declare_topology(amqp_connection_state_t conn,
                                                            const struct mq_topology *t, char *err,
                                                            size_t errlen);

/* Headers the consumer sets on a message it sends to the retry or dead-letter queue. */
#define MQ_HDR_ATTEMPTS "x-cqrs-attempts"       /* long: tries so far (>= 1) */
#define MQ_HDR_REASON "x-cqrs-reason"           /* text: why the last try failed */
#define MQ_HDR_SQLSTATE "x-cqrs-sqlstate"       /* text: SQLSTATE of the last try, may be "" */
#define MQ_HDR_ROUTING_KEY "x-cqrs-routing-key" /* text: the routing key the relay used */
#define MQ_HDR_FAILED_AT "x-cqrs-failed-at"     /* timestamp: when the last try failed */

/* Looks key up in a headers table. An integer of any AMQP width goes to *out (true); anything else
 * or no such key: false. */
bool mq_header_int(const amqp_table_t *t, const char *key, long long *out);
/* A string (utf8 or bytes) value of key into buf, NUL-terminated and truncated (true); false, with
 * buf "", when missing or not a string. */
bool mq_header_str(const amqp_table_t *t, const char *key, char *buf, size_t len);
/* The headers of props, or NULL when it has none. */
const amqp_table_t *mq_headers(const amqp_basic_properties_t *props);
/* A header (or argument) entry key = value of kind utf8; both strings must outlive the entry. */
amqp_table_entry_t mq_utf8_entry(const char *key, const char *value);
/* Sets props to those of a persistent JSON message (content_type "application/json",
 * delivery_mode persistent), every other property unset: the caller adds its own (the relay its
 * message_id and type). */
void mq_json_props(amqp_basic_properties_t *props);

/* --- connections ---------------------------------------------------------------------------- */

/* Checks AMQP_HEARTBEAT_S (the heartbeat asked for at login, default 10 s; 0 = none),
 * AMQP_QUEUE_TYPE (classic or quorum), AMQP_DELIVERY_LIMIT (quorum queues) and
 * CONSUMER_PARTITIONS (1 to MQ_MAX_PARTITIONS): 0, or -1 with err
 * naming the variable (a service calls it at start and exits 2; a bad value otherwise falls back
 * to the default). */
__attribute__((warn_unused_result)) int mq_check_options(char *err, size_t errlen);
/* Those variables, for --help (lib/service/cli.h). */
extern const struct config_table mq_config_table;

enum mq_flags {
    MQ_CONFIRMS = 1 << 0, /* put the channel in publisher-confirm mode (confirm.select) */
};

/* Connects to one node of b (each in turn, from the next one, until one succeeds), logs in
 * (advertising the connection.blocked capability, with AMQP_HEARTBEAT_S), opens MQ_CHANNEL,
 * declares the topology and applies flags. Returns the connection, or NULL with err (the last
 * node's error, with how many were tried). */
amqp_connection_state_t mq_connect(const struct mq_broker *b, const struct mq_topology *t,
                                   unsigned flags, char *err, size_t errlen);

/* Retries mq_connect (every node once per round) with exponential backoff between rounds (100 ms
 * to 5 s) until it succeeds or a stop is requested (then NULL). Logs each failure. */
amqp_connection_state_t mq_connect_retry(const struct mq_broker *b, const struct mq_topology *t,
                                         unsigned flags);

/* Ends conn. polite: close the channel and the connection with the broker first (skip it when the
 * connection is known to be broken: a dead peer would make the close wait for the RPC timeout). */
void mq_close(amqp_connection_state_t conn, bool polite);

/* Describes an RPC reply (library error, or the broker's close code and text) into buf. */
const char *mq_reply_text(amqp_rpc_reply_t r, char *buf, size_t len);

/* Describes a non-zero library status (amqp_status_enum) into buf. */
const char *mq_status_text(int status, char *buf, size_t len);

/* What a publishing connection's reader learns besides its confirms, filled by mq_service and
 * mq_confirms_read. A basic.return is logged (event id, routing key) and handed to on_return
 * (optional); connection.blocked / connection.unblocked set and clear blocked. Owned by the
 * caller, one per connection; clear it when the connection is made again. */
struct mq_returned {
    const char *message_id; /* the event id the relay publishes as message_id ("" if none) */
    const char *routing_key;
    unsigned reply_code; /* 312 NO_ROUTE */
};
struct mq_watch {
    bool blocked;             /* the broker blocked this connection (a resource alarm) */
    char blocked_reason[128]; /* as the broker gave it: "low on memory" */
    void (*on_return)(void *arg, const struct mq_returned *ret);
    void *arg;
};

/* Handles one frame that is not what the caller waited for. Heartbeats, stray basic.ack/nack,
 * connection.blocked/unblocked (logged) and basic.return (whose message is read, logged and
 * dropped) are harmless: returns 0. channel.close and
 * connection.close are answered with close-ok: returns -1 with err describing the broker's
 * reason; the caller must then drop the connection. */
__attribute__((warn_unused_result)) int
mq_handle_frame(amqp_connection_state_t conn, const amqp_frame_t *frame, char *err, size_t errlen);

/* Reads whatever frames are already waiting without blocking, which also sends heartbeats on an
 * otherwise idle connection. Returns 0, or -1 with err when the connection or channel is gone.
 * For publishing connections only: on a consuming channel a delivery read here counts as an
 * error (the caller reconnects, and the broker redelivers it). */
__attribute__((warn_unused_result)) int mq_service(amqp_connection_state_t conn, struct mq_watch *w,
                                                   char *err, size_t errlen);

/* Waits until conn's socket can take more bytes, so that a publish does not block on a broker
 * that stopped reading (librabbitmq writes without a deadline), until deadline_ms
 * (deadline_now_ms's clock) or a stop request. Returns 0, or -1 with err: the caller drops the
 * connection. */
__attribute__((warn_unused_result)) int
mq_wait_writable(amqp_connection_state_t conn, long long deadline_ms, char *err, size_t errlen);

/* --- publisher confirms --------------------------------------------------------------------- */

/* MQ_RETURNED: acked, but the broker returned it first as unroutable (a failed publish). */
enum mq_confirm_state { MQ_PENDING = 0, MQ_ACKED, MQ_NACKED, MQ_RETURNED };

/* Book-keeping for the confirms of one batch of n messages published with consecutive delivery
 * tags first_tag .. first_tag + n - 1 on a confirm-mode channel. Pure logic, no I/O.
 * The struct owns its state array (mq_confirms_release frees it). */
struct mq_confirms {
    uint64_t first_tag;
    size_t n;
    size_t low;     /* every entry below low is settled */
    size_t pending; /* entries not yet acked or nacked */
    size_t nacked;
    size_t
        returned; /* entries returned as unroutable (mq_confirms_return; their ack still comes) */
    unsigned char *state;
    size_t cap;
};

void mq_confirms_init(struct mq_confirms *c);
void mq_confirms_release(struct mq_confirms *c);
/* Starts a batch: n entries, all pending. */
void mq_confirms_reset(struct mq_confirms *c, uint64_t first_tag, size_t n);
/* Applies basic.ack (ack=true) or basic.nack for tag; multiple settles every pending entry up to
 * and including tag. Tags below the batch (an earlier batch's) are ignored. Returns the number
 * of entries newly settled, or -1 when tag lies beyond the batch (a protocol error). */
long mq_confirms_settle(struct mq_confirms *c, uint64_t tag, bool multiple, bool ack);
bool mq_confirms_done(const struct mq_confirms *c);
/* Applies basic.ack or basic.nack for tag to n batches published one after another (cs[i+1]'s
 * tags follow cs[i]'s; non-empty). With multiple, every batch the tag reaches is settled up to the
 * tag (clamped to each batch's last tag); without, only the batch holding the tag. Tags below the
 * batches (earlier batches', already dropped) are ignored. Returns the number of entries newly
 * settled, or -1 when tag lies beyond the last batch. n = 0: nothing is in flight, returns 0. */
long mq_confirms_settle_span(struct mq_confirms *const *cs, size_t n, uint64_t tag, bool multiple,
                             bool ack);
enum mq_confirm_state mq_confirms_state(const struct mq_confirms *c, size_t i);
/* Entry i was returned by the broker (a basic.return, which comes before its ack): once acked it
 * reads MQ_RETURNED, never MQ_ACKED. Counted once in returned. */
void mq_confirms_return(struct mq_confirms *c, size_t i);
/* The number of leading entries that are MQ_ACKED: the rows that may be marked published without
 * marking one after a row that failed (returned, nacked) or is still pending. */
size_t mq_confirms_acked_prefix(const struct mq_confirms *c);

/* Publishes one message (mandatory) on a confirm-mode connection and waits up to timeout_ms for
 * its confirm. *next_tag is the connection's next delivery tag (1 after confirm.select) and is
 * advanced. Returns 0 when the broker acked it and did not return it as unroutable, or -1 with err
 * (a nack, a return, a time-out or a broken connection: the caller drops the connection). */
__attribute__((warn_unused_result)) int
mq_publish_confirmed(amqp_connection_state_t conn, uint64_t *next_tag, const char *exchange,
                     const char *routing_key, const amqp_basic_properties_t *props,
                     amqp_bytes_t body, long timeout_ms, char *err, size_t errlen);

/* Reads frames until every entry of c is settled or timeout_ms passes. Returns 0 when all are
 * settled (some may be nacked), or -1 with err on time-out or connection/channel failure (the
 * entries acked so far stay acked in c). A basic.return is logged as a warning. */
__attribute__((warn_unused_result)) int mq_confirms_wait(amqp_connection_state_t conn,
                                                         struct mq_confirms *c, long timeout_ms,
                                                         char *err, size_t errlen);

/* Reads every frame already available without blocking (which also sends heartbeats) and
 * settles the confirms among the n consecutive batches cs (mq_confirms_settle_span). A
 * basic.return goes to w (the caller finds the message by its id and calls mq_confirms_return),
 * as do connection.blocked/unblocked. Returns 0, or -1 with err when the connection or channel is
 * gone or a confirm names an unknown tag. */
__attribute__((warn_unused_result)) int mq_confirms_read(amqp_connection_state_t conn,
                                                         struct mq_confirms *const *cs, size_t n,
                                                         struct mq_watch *w, char *err,
                                                         size_t errlen);

#endif
