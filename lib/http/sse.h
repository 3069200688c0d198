/* sse: server-sent event streams on libmicrohttpd's thread pool, with no thread per client.
 *
 * A struct sse_hub holds one current document (e.g. the mood figures as JSON) and the streams of
 * the clients that watch it. Each stream is an HTTP response whose body a content reader
 * produces: when the client has not seen the current document, the reader writes it as one
 * event ("id: <n>", "data: <document>"); when a keep-alive is due, a comment line; otherwise it
 * parks the connection in the hub's parking lot (lib/http/parking.h) and returns 0, so no pool
 * thread waits for news. sse_hub_publish() and sse_hub_keepalive() wake the hub's own streams
 * (its key in the lot), not the other spots of the lot; sse_hub_close() ends them all. A new stream
 * first gets "retry: <ms>" and the current document, if there is one yet.
 *
 * Threads: publish, keepalive and close may be called from any thread; the readers run in MHD's
 * pool threads. The hub must outlive the HTTP server, because MHD frees streams (in its own
 * threads) until MHD_stop_daemon returns; close it, and wait for it to drain, before stopping
 * the server (MHD must not be stopped while connections are suspended). */
#ifndef CQ_SSE_H
#define CQ_SSE_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct parking;
struct sse_hub;

/* Streams park in lot (which must outlive the hub). max_streams: more concurrent streams are
 * refused with 503 (keeps connections for other requests); retry_ms: the reconnect delay the
 * clients are told. */
struct sse_hub *sse_hub_new(struct parking *lot, size_t max_streams, unsigned retry_ms);
/* The key (and group) the hub's streams are parked with in its lot. */
uint64_t sse_hub_key(const struct sse_hub *h);
/* At most per_ip streams per client address (0: no limit, the default). */
void sse_hub_set_per_ip_limit(struct sse_hub *h, size_t per_ip);
#define SSE_PER_IP_RETRY_S 5
/* Frees the hub; only after the HTTP server has stopped. */
void sse_hub_free(struct sse_hub *h);

/* Answers req with a new stream (200, text/event-stream), or -1 with err: 503 when the hub is
 * closed or full, 429 rate_limited (Retry-After: SSE_PER_IP_RETRY_S) when req->client holds the
 * per-address limit of streams already. */
int sse_hub_attach(struct sse_hub *h, const struct http_request *req, struct http_response *resp,
                   struct api_error *err);

/* Makes doc (copied; one line or several) the current document and wakes every stream. Returns
 * false, and wakes nothing, when doc equals the current document. */
bool sse_hub_publish(struct sse_hub *h, const char *doc, size_t len);
/* Sends every stream a keep-alive comment (unless it gets an event first). */
void sse_hub_keepalive(struct sse_hub *h);
/* Ends every stream (after what it is writing) and refuses new ones. */
void sse_hub_close(struct sse_hub *h);
/* Waits up to timeout_ms until no stream is left; returns true if none is. */
bool sse_hub_wait_idle(struct sse_hub *h, long timeout_ms);
size_t sse_hub_streams(struct sse_hub *h);

#endif
