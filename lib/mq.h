/* mq: RabbitMQ helpers over librabbitmq-c 0.11, shared by the relay and the consumer.
 *
 * The module prefix is mq_ (librabbitmq owns amqp_), and the header is not called amqp.h: with
 * -Ilib it would shadow the library's <amqp.h>, which <amqp_tcp_socket.h> includes.
 *
 * Every connection uses one channel, MQ_CHANNEL. A connection is not shared between threads.
 * Memory: struct mq_broker owns a copy of the URL (mq_broker_release frees it); a connection
 * returned by mq_connect*() belongs to the caller, who ends it with mq_close(). */
#ifndef CQ_MQ_H
#define CQ_MQ_H

#include <amqp.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MQ_CHANNEL 1

/* --- broker address ------------------------------------------------------------------------- */

struct mq_broker {
    char *buf; /* amqp_parse_url() works in place on this copy; info points into it */
    struct amqp_connection_info info;
};

/* Parses an amqp:// URL (amqp://user:pass@host:port/vhost, percent-decoded; the vhost defaults
 * to "/"). Returns 0, or -1 with err (which never contains the URL: it may hold a password). */
__attribute__((warn_unused_result)) int mq_broker_parse(struct mq_broker *b, const char *url,
                                                        char *err, size_t errlen);
void mq_broker_release(struct mq_broker *b);

/* --- topology ------------------------------------------------------------------------------- */

/* Every name the services declare. Both services call mq_declare_topology() with the same
 * struct, so declarations are identical and idempotent. */
struct mq_topology {
    const char *exchange;   /* durable topic exchange */
    const char *queue;      /* read-model queue, bound with "#" */
    const char *mood_queue; /* bound with "mood.#" */
};

/* Declares the exchange, the queues and their bindings on MQ_CHANNEL. Returns 0 or -1 with err. */
__attribute__((warn_unused_result)) int mq_declare_topology(amqp_connection_state_t conn,
                                                            const struct mq_topology *t, char *err,
                                                            size_t errlen);

/* --- connections ---------------------------------------------------------------------------- */

enum mq_flags {
    MQ_CONFIRMS = 1 << 0, /* put the channel in publisher-confirm mode (confirm.select) */
};

/* Connects, logs in, opens MQ_CHANNEL, declares the topology and applies flags.
 * Returns the connection, or NULL with err. */
amqp_connection_state_t mq_connect(const struct mq_broker *b, const struct mq_topology *t,
                                   unsigned flags, char *err, size_t errlen);

/* Retries mq_connect with exponential backoff (100 ms to 5 s) until it succeeds or a stop is
 * requested (then NULL). Logs each failure. */
amqp_connection_state_t mq_connect_retry(const struct mq_broker *b, const struct mq_topology *t,
                                         unsigned flags);

/* Ends conn. polite: close the channel and the connection with the broker first (skip it when the
 * connection is known to be broken: a dead peer would make the close wait for the RPC timeout). */
void mq_close(amqp_connection_state_t conn, bool polite);

/* Describes an RPC reply (library error, or the broker's close code and text) into buf. */
const char *mq_reply_text(amqp_rpc_reply_t r, char *buf, size_t len);

/* Describes a non-zero library status (amqp_status_enum) into buf. */
const char *mq_status_text(int status, char *buf, size_t len);

/* Handles one frame that is not what the caller waited for. Heartbeats, stray basic.ack/nack and
 * basic.return (whose message is read and dropped) are harmless: returns 0. channel.close and
 * connection.close are answered with close-ok: returns -1 with err describing the broker's
 * reason; the caller must then drop the connection. */
__attribute__((warn_unused_result)) int
mq_handle_frame(amqp_connection_state_t conn, const amqp_frame_t *frame, char *err, size_t errlen);

/* Reads whatever frames are already waiting without blocking, which also sends heartbeats on an
 * otherwise idle connection. Returns 0, or -1 with err when the connection or channel is gone.
 * For publishing connections only: on a consuming channel a delivery read here counts as an
 * error (the caller reconnects, and the broker redelivers it). */
__attribute__((warn_unused_result)) int mq_service(amqp_connection_state_t conn, char *err,
                                                   size_t errlen);

/* --- publisher confirms --------------------------------------------------------------------- */

enum mq_confirm_state { MQ_PENDING = 0, MQ_ACKED, MQ_NACKED };

/* Book-keeping for the confirms of one batch of n messages published with consecutive delivery
 * tags first_tag .. first_tag + n - 1 on a confirm-mode channel. Pure logic, no I/O.
 * The struct owns its state array (mq_confirms_release frees it). */
struct mq_confirms {
    uint64_t first_tag;
    size_t n;
    size_t low;     /* every entry below low is settled */
    size_t pending; /* entries not yet acked or nacked */
    size_t nacked;
    size_t returned; /* basic.return frames seen (unroutable messages; their ack still comes) */
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
enum mq_confirm_state mq_confirms_state(const struct mq_confirms *c, size_t i);

/* Reads frames until every entry of c is settled or timeout_ms passes. Returns 0 when all are
 * settled (some may be nacked), or -1 with err on time-out or connection/channel failure (the
 * entries acked so far stay acked in c). A basic.return is logged as a warning. */
__attribute__((warn_unused_result)) int mq_confirms_wait(amqp_connection_state_t conn,
                                                         struct mq_confirms *c, long timeout_ms,
                                                         char *err, size_t errlen);

#endif
