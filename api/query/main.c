/* query-api: the read side's HTTP API. Wiring only; see routes.c and query.c. */
#include "apiserver.h"
#include "mood.h"
#include "query.h"
#include "routes.h"

int main(void)
{
    const struct apiserver_spec spec = {
        .svc = "query-api",
        .port_var = "QUERY_SERVICE_PORT",
        .port_default = "8081",
        .dsn_var = "READ_DATABASE_URL",
        .routes = query_routes,
        .nroutes = query_nroutes,
        .stmts = query_stmts,
        .nstmts = query_nstmts,
        .start = mood_start,
        .stop = mood_stop,
        .release = mood_release,
    };
    return apiserver_main(&spec);
}
