/* query-api: the read side's HTTP API. Wiring only; see routes.c, query.c and service.c. */
#include "apiserver.h"
#include "cli.h"
#include "query.h"
#include "routes.h"
#include "service.h"

int main(int argc, char **argv)
{
    const struct apiserver_spec spec = {
        .svc = "query-api",
        .port_var = "QUERY_SERVICE_PORT",
        .port_default = "8081",
        .dsn_var = "QUERY_DATABASE_URL",
        .dsn_fallback_var = "READ_DATABASE_URL",
        .routes = query_routes,
        .nroutes = query_nroutes,
        .stmts = query_stmts,
        .nstmts = query_nstmts,
        .start = query_service_start,
        .stop = query_service_stop,
        .release = query_service_release,
    };
    const struct cli_spec cli = {"query-api",
                                 "query-api: the read side's HTTP API (queries, the dashboard)",
                                 query_routes, query_nroutes};
    int rc = cli_handle(&cli, argc, argv);

    return rc >= 0 ? rc : apiserver_main(&spec);
}
