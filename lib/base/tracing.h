/* tracing: the ids that follow a request and its events through the services
 * (docs/observability.md, "Request ids and traces").
 *
 * A request id (X-Request-Id) is taken from the client when it is 1..TRACING_REQUEST_ID_MAX
 * visible ASCII characters (0x21..0x7e) other than '"' and '\' (so it is one logfmt value and
 * one header value as sent), else generated: 32 lowercase hex digits from getrandom(2).
 *
 * A W3C trace context `traceparent` (https://www.w3.org/TR/trace-context/) is accepted in its
 * version 00 form only, strictly: "00-" 32 lowercase hex digits (not all zero) "-" 16 lowercase
 * hex digits (not all zero) "-" 2 lowercase hex digits, 55 characters in all. */
#ifndef CQ_TRACING_H
#define CQ_TRACING_H

#include <stdbool.h>
#include <stddef.h>

#define TRACING_REQUEST_ID_MAX 128
#define TRACING_TRACEPARENT_LEN 55
#define TRACING_TRACE_ID_LEN 32

bool tracing_request_id_valid(const char *s);
/* Writes a new request id (32 hex digits) into out. */
void tracing_request_id_new(char out[TRACING_REQUEST_ID_MAX + 1]);

bool tracing_traceparent_valid(const char *s);
/* Writes a new version-00 traceparent (a new trace: random trace and parent ids, flags 00). */
void tracing_traceparent_new(char out[TRACING_TRACEPARENT_LEN + 1]);
/* The trace id of a valid traceparent into out (32 hex digits); "" when s is not valid. */
void tracing_trace_id(const char *traceparent, char out[TRACING_TRACE_ID_LEN + 1]);

#endif
