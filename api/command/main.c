/* command-api: the write side's HTTP API. Wiring only; see routes.c and command.c. */
#include "apiserver.h"
#include "command.h"
#include "routes.h"

int main(void)
{
    const struct apiserver_spec spec = {
        .svc = "command-api",
        .port_var = "COMMAND_SERVICE_PORT",
        .port_default = "8080",
        .dsn_var = "DATABASE_URL",
        .routes = command_routes,
        .nroutes = command_nroutes,
        .stmts = command_stmts,
        .nstmts = command_nstmts,
    };
    return apiserver_main(&spec);
}
