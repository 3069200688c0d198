/* query: runs one read-model query function and passes its JSON through. A NULL result means
 * the id is unknown (404). Reads are safe to retry, so a connection found broken is replaced and
 * the statement run once more before answering 503. A request with X-Consistency-Token is first
 * held (parked, no thread) until the read model has its events (consistency.h). */
#ifndef CQ_QUERY_H
#define CQ_QUERY_H

#include "service/apiserver.h"

#include <stdbool.h>

extern const struct pg_stmt query_stmts[];
extern const size_t query_nstmts;

/* not_found_what names the resource in the 404 message, e.g. "order 7". Returns 0, -1 with err,
 * or HTTP_SUSPENDED (the request is parked: the handler returns that, and runs again later). */
int query_run(const struct apiserver_ctx *ctx, const char *stmt, int nparams,
              const char *const *params, const char *not_found_what, const struct http_request *req,
              struct http_response *resp, struct api_error *err);

/* query_run for an answer the query API caches (docs/api.md#caching): cache_key names it as the
 * read DB's notifications do (order:7, product:3, customer:45). A 200 is served from the cache
 * when it holds the key (unless the request carries X-Consistency-Token), else read and offered
 * to the cache. */
int query_run_cached(const struct apiserver_ctx *ctx, const char *cache_key, const char *stmt,
                     int nparams, const char *const *params, const char *not_found_what,
                     const struct http_request *req, struct http_response *resp,
                     struct api_error *err);

/* A list's page (docs/api.md#pagination): its limit and offset, and the one filter argument the
 * next page's link repeats (arg_name NULL: none; arg_value NULL: not given). */
struct query_page {
    long limit, offset;
    const char *arg_name, *arg_value;
};

/* query_run for a *_page statement, whose row is (JSON array, more): when more remains, the
 * answer carries Link: <path?[arg=value&]limit=L&offset=O+L>; rel="next". */
int query_run_page(const struct apiserver_ctx *ctx, const char *stmt, int nparams,
                   const char *const *params, const struct query_page *page,
                   const struct http_request *req, struct http_response *resp,
                   struct api_error *err);

/* Reads limit (1..max, default def) and offset (>= 0, default 0) into page. */
int query_page_args(const struct http_request *req, long max, long def, struct query_page *page,
                    struct api_error *err);

/* Reads an optional non-negative integer query argument in [min, max], default def. */
int query_int_arg(const struct http_request *req, const char *name, long min, long max, long def,
                  long *out, struct api_error *err);

/* Reads an optional query argument that must be one of choices (NULL-terminated); *out is NULL
 * when absent, else the matching choice. */
int query_enum_arg(const struct http_request *req, const char *name, const char *const *choices,
                   const char **out, struct api_error *err);

/* Reads an optional YYYY-MM-DD argument that must be a real calendar date; NULL when absent. */
int query_date_arg(const struct http_request *req, const char *name, const char **out,
                   struct api_error *err);
bool query_valid_date(const char *s);

#endif
