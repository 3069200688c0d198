#include "http/sse.h"

#include "base/buf.h"
#include "base/deadline.h"
#include "base/xalloc.h"
#include "http/parking.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* One client's stream: created by sse_hub_attach, freed by MHD through stream_free. Every field
 * is guarded by the hub's mutex. */
struct sse_stream {
    struct sse_stream *prev, *next;
    struct sse_hub *hub;
    struct MHD_Connection *conn;
    struct parking_spot spot; /* parked by the reader, keyed by the hub */
    uint64_t seq_sent;        /* seq of the last document written; 0: none yet */
    uint64_t ka_sent;         /* keep-alive round last answered */
    bool started;             /* "retry:" written */
    char client[48];          /* the client's address (req->client) */
    struct buf out;           /* what is being written */
    size_t out_off;           /* how much of it went out */
};

struct sse_hub {
    pthread_mutex_t mu;
    pthread_cond_t drained;
    struct sse_stream streams; /* circular list head */
    size_t nstreams, max_streams;
    size_t per_ip_limit; /* streams one client address may hold; 0: no limit */
    unsigned retry_ms;
    char *doc; /* current document, NUL-terminated */
    size_t doc_len;
    uint64_t seq; /* bumped by every new document; 0: no document yet */
    uint64_t ka;  /* bumped by every keep-alive round */
    bool closed;
    struct parking *lot; /* where the streams wait, under key */
    uint64_t key;
};

struct sse_hub *sse_hub_new(struct parking *lot, size_t max_streams, unsigned retry_ms)
{
    struct sse_hub *h = xcalloc(1, sizeof *h);

    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->drained, NULL);
    h->streams.prev = h->streams.next = &h->streams;
    h->max_streams = max_streams;
    h->retry_ms = retry_ms;
    h->lot = lot;
    h->key = parking_new_key(lot);
    return h;
}

void sse_hub_free(struct sse_hub *h)
{
    if (h == NULL)
        return;
    /* streams left over belong to a server that never ran them; nothing else points at them */
    while (h->streams.next != &h->streams) {
        struct sse_stream *st = h->streams.next;
        h->streams.next = st->next;
        parking_unpark(h->lot, &st->spot);
        buf_free(&st->out);
        free(st);
    }
    free(h->doc);
    pthread_cond_destroy(&h->drained);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

void sse_hub_set_per_ip_limit(struct sse_hub *h, size_t per_ip)
{
    pthread_mutex_lock(&h->mu);
    h->per_ip_limit = per_ip;
    pthread_mutex_unlock(&h->mu);
}

/* Streams of client address client. Called with the hub's mutex held. */
static size_t streams_of(const struct sse_hub *h, const char *client)
{
    size_t n = 0;

    for (const struct sse_stream *st = h->streams.next; st != &h->streams; st = st->next)
        n += strcmp(st->client, client) == 0;
    return n;
}

uint64_t sse_hub_key(const struct sse_hub *h)
{
    return h->key;
}

/* Appends the current document as "data:" lines, one per line of doc (a line break is \n, \r\n
 * or \r), so that the client's data is doc again. */
static void out_add_data(struct sse_stream *st, const char *doc, size_t len)
{
    size_t i = 0;

    for (;;) {
        size_t j = i;
        while (j < len && doc[j] != '\n' && doc[j] != '\r')
            j++;
        buf_puts(&st->out, "data: ");
        buf_put(&st->out, doc + i, j - i);
        buf_puts(&st->out, "\n");
        if (j == len)
            break;
        if (doc[j] == '\r' && j + 1 < len && doc[j + 1] == '\n')
            j++;
        i = j + 1;
    }
}

/* Fills st->out with what the client should get next; false when there is nothing. Called with
 * the hub's mutex held. */
static bool stream_next(struct sse_hub *h, struct sse_stream *st)
{
    bool event = h->seq != 0 && st->seq_sent != h->seq;

    buf_reset(&st->out);
    st->out_off = 0;
    if (!st->started) {
        buf_printf(&st->out, "retry: %u\n", h->retry_ms);
        st->started = true;
        if (!event) {
            buf_puts(&st->out, "\n");
            return true;
        }
    }
    if (event) {
        buf_printf(&st->out, "id: %llu\n", (unsigned long long)h->seq);
        out_add_data(st, h->doc, h->doc_len);
        buf_puts(&st->out, "\n");
        st->seq_sent = h->seq;
        st->ka_sent = h->ka; /* the event keeps the connection alive too */
        return true;
    }
    if (st->ka_sent != h->ka) {
        buf_puts(&st->out, ": keep-alive\n\n");
        st->ka_sent = h->ka;
        return true;
    }
    return false;
}

/* MHD's content reader for one stream (runs in a pool thread). */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct sse_stream *st = cls;
    struct sse_hub *h = st->hub;
    ssize_t n;

    (void)pos;
    pthread_mutex_lock(&h->mu);
    if (st->out_off == st->out.len) {
        if (h->closed) {
            n = MHD_CONTENT_READER_END_OF_STREAM;
            goto out;
        }
        if (!stream_next(h, st)) {
            /* nothing to say: park the connection until publish/keepalive/close wakes the hub's
             * key; a closed lot (shutdown) ends the stream */
            n = parking_park(h->lot, &st->spot, st->conn, h->key, h->key, PARKING_NO_DEADLINE,
                             st->client)
                    ? 0
                    : MHD_CONTENT_READER_END_OF_STREAM;
            goto out;
        }
    }
    size_t len = st->out.len - st->out_off;
    if (len > max)
        len = max;
    memcpy(buf, st->out.s + st->out_off, len);
    st->out_off += len;
    n = (ssize_t)len;
out:
    pthread_mutex_unlock(&h->mu);
    return n;
}

/* MHD is done with the stream (client gone, stream ended, or server stopping). */
static void stream_free(void *cls)
{
    struct sse_stream *st = cls;
    struct sse_hub *h = st->hub;

    pthread_mutex_lock(&h->mu);
    parking_unpark(h->lot, &st->spot); /* only if the server stopped with it parked */
    st->prev->next = st->next;
    st->next->prev = st->prev;
    if (--h->nstreams == 0)
        pthread_cond_broadcast(&h->drained);
    pthread_mutex_unlock(&h->mu);
    buf_free(&st->out);
    free(st);
}

int sse_hub_attach(struct sse_hub *h, const struct http_request *req, struct http_response *resp,
                   struct api_error *err)
{
    struct sse_stream *st;

    pthread_mutex_lock(&h->mu);
    if (h->closed || h->nstreams >= h->max_streams) {
        bool closed = h->closed;
        pthread_mutex_unlock(&h->mu);
        return api_error_set(err, API_UNAVAILABLE, "unavailable", "%s, retry later",
                             closed ? "the server is shutting down" : "too many open streams");
    }
    if (h->per_ip_limit > 0 && req->client[0] != '\0' &&
        streams_of(h, req->client) >= h->per_ip_limit) {
        size_t limit = h->per_ip_limit;
        pthread_mutex_unlock(&h->mu);
        return api_error_rate_limited(err, SSE_PER_IP_RETRY_S,
                                      "this address has %zu open streams already, the most allowed",
                                      limit);
    }
    st = xcalloc(1, sizeof *st);
    snprintf(st->client, sizeof st->client, "%s", req->client);
    st->hub = h;
    st->conn = req->conn;
    st->ka_sent = h->ka;
    st->next = &h->streams;
    st->prev = h->streams.prev;
    st->prev->next = st;
    h->streams.prev = st;
    h->nstreams++;
    pthread_mutex_unlock(&h->mu);

    http_response_stream(resp, 200, "text/event-stream", stream_read, stream_free, st);
    if (http_response_header(resp, "Cache-Control", "no-cache") != 0)
        return api_error_set(err, API_INTERNAL, "internal", "internal error");
    return 0;
}

/* Resumes every parked stream of the hub (and no other spot of the lot). Called with the hub's
 * mutex held, so no stream is freed meanwhile (MHD frees it through stream_free, which takes the
 * mutex) and no reader parks between its decision and this wake-up. */
static void wake_all(struct sse_hub *h)
{
    parking_wake(h->lot, h->key);
}

bool sse_hub_publish(struct sse_hub *h, const char *doc, size_t len)
{
    pthread_mutex_lock(&h->mu);
    if (h->seq != 0 && len == h->doc_len && memcmp(doc, h->doc, len) == 0) {
        pthread_mutex_unlock(&h->mu);
        return false;
    }
    free(h->doc);
    h->doc = xmalloc(len + 1);
    memcpy(h->doc, doc, len);
    h->doc[len] = '\0';
    h->doc_len = len;
    h->seq++;
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
    return true;
}

void sse_hub_keepalive(struct sse_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->ka++;
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

void sse_hub_close(struct sse_hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->closed = true;
    wake_all(h);
    pthread_mutex_unlock(&h->mu);
}

bool sse_hub_wait_idle(struct sse_hub *h, long timeout_ms)
{
    bool idle;

    pthread_mutex_lock(&h->mu);
    idle = deadline_wait_zero(&h->mu, &h->drained, &h->nstreams, timeout_ms);
    pthread_mutex_unlock(&h->mu);
    return idle;
}

size_t sse_hub_streams(struct sse_hub *h)
{
    size_t n;

    pthread_mutex_lock(&h->mu);
    n = h->nstreams;
    pthread_mutex_unlock(&h->mu);
    return n;
}
