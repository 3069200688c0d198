/* query-api: the read side's HTTP API. Wiring only; see routes.c, query.c and service.c. */
#include "service/apiserver.h"
#include "dashboard.h"
#include "mood.h"
#include "query.h"
#include "routes.h"
#include "service.h"

int main(int argc, char **argv)
{
    static const struct config_table *const config[] = {
        &query_service_config_table, &mood_config_table, &dashboard_config_table};
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
        .summary = "query-api: the read side's HTTP API (queries, the dashboard)",
        .config = config,
        .nconfig = sizeof config / sizeof config[0],
    };

    return apiserver_main(&spec, argc, argv);
}
