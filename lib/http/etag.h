/* etag: validators for GET answers (RFC 9110 8.8.3, 13.1.2). The ETag of a complete answer is a
 * strong one, "\"<16 hex digits>\"": the FNV-1a 64-bit hash of its body, so the same
 * representation always has the same tag and a changed one (almost surely) another. A GET or
 * HEAD whose If-None-Match names it, or is "*", is answered 304 Not Modified without the body
 * (lib/http/http.c). Hashing the body costs about a nanosecond a byte; the query API's answers are
 * small. */
#ifndef CQ_ETAG_H
#define CQ_ETAG_H

#include <stdbool.h>
#include <stddef.h>

#define ETAG_LEN 18 /* two quotes and 16 hex digits */

/* Writes the ETag of body (len bytes) to out, NUL-terminated. */
void etag_of(const char *body, size_t len, char out[ETAG_LEN + 1]);

/* Whether an If-None-Match field value (a comma-separated list of entity tags, weak ones
 * "W/"-prefixed, or "*") matches etag by the weak comparison GET uses. NULL never matches. */
bool etag_none_match(const char *if_none_match, const char *etag);

#endif
