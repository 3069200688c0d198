/* promtext: reads another service's /metrics. promtext_fetch() GETs an http:// URL with HTTP/1.0
 * (no TLS, no redirects, no chunked bodies: what lib/metrics_server answers), bounded in time and
 * size; promtext_value() finds one unlabelled sample in Prometheus text. Used by the query API to
 * show the relay's outbox backlog without reading the write DB. */
#ifndef CQ_PROMTEXT_H
#define CQ_PROMTEXT_H

#include <stddef.h>

#define PROMTEXT_MAX_BODY (1024 * 1024)

/* Parses "http://host[:port][/path]" (port 80 by default, path "/" by default). Returns 0 or -1
 * with err. */
__attribute__((warn_unused_result)) int
promtext_parse_url(const char *url, char *host, size_t hostlen, char *port, size_t portlen,
                   char *path, size_t pathlen, char *err, size_t errlen);

/* GETs url; the whole exchange (resolve, connect, send, read) takes at most about timeout_ms.
 * Returns 0 with *body (NUL-terminated, caller frees) when the answer is 200, or -1 with err. */
__attribute__((warn_unused_result)) int promtext_fetch(const char *url, long timeout_ms,
                                                       char **body, char *err, size_t errlen);

/* Finds the sample "name value" (no labels) in text. Returns 0 with *value, or -1 when absent or
 * not a number. */
__attribute__((warn_unused_result)) int promtext_value(const char *text, const char *name,
                                                       double *value);

#endif
