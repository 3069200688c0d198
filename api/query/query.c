#include "query.h"

#include "config.h"
#include "log.h"
#include "xalloc.h"

#include <stdio.h>
#include <string.h>

const struct pg_stmt query_stmts[] = {
    {"product", "SELECT q_product($1::bigint)", 1},
    {"products", "SELECT q_products($1::integer, $2::integer)", 2},
    {"order", "SELECT q_order($1::bigint)", 1},
};
const size_t query_nstmts = sizeof query_stmts / sizeof query_stmts[0];

int query_int_arg(const struct http_request *req, const char *name, long min, long max, long def,
                  long *out, struct api_error *err)
{
    const char *v = http_request_arg(req, name);

    if (v == NULL) {
        *out = def;
        return 0;
    }
    if (config_parse_long(v, min, max, out) != 0)
        return api_error_field(err, name, "must be an integer between %ld and %ld", min, max);
    return 0;
}

int query_run(const struct apiserver_ctx *ctx, const char *stmt, int nparams,
              const char *const *params, const char *not_found_what, const struct http_request *req,
              struct http_response *resp, struct api_error *err)
{
    char detail[256];

    for (int attempt = 0; attempt < 2; attempt++) {
        PGconn *conn = pg_pool_acquire(ctx->pool, detail, sizeof detail);
        PGresult *res;
        int rc = -1;

        if (conn == NULL)
            return api_error_set(err, API_UNAVAILABLE, "unavailable",
                                 "the read database is unavailable, retry later");
        res = PQexecPrepared(conn, stmt, nparams, params, NULL, NULL, 0);
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
            if (PQgetisnull(res, 0, 0)) {
                api_error_set(err, API_NOT_FOUND, "not_found", "%s not found", not_found_what);
            } else {
                size_t len = (size_t)PQgetlength(res, 0, 0);
                char *body = xmalloc(len + 1);
                memcpy(body, PQgetvalue(res, 0, 0), len + 1);
                http_response_json(resp, 200, body, len);
                rc = 0;
            }
        } else if (attempt == 0 && PQstatus(conn) != CONNECTION_OK) {
            PQclear(res);
            pg_pool_release(ctx->pool, conn); /* drops the broken connection */
            continue;
        } else {
            apiserver_db_error(conn, res, req->id, err);
        }
        PQclear(res);
        pg_pool_release(ctx->pool, conn);
        return rc;
    }
    return api_error_set(err, API_UNAVAILABLE, "unavailable",
                         "the read database is unavailable, retry later");
}
