/* command-api: the write side's HTTP API. Wiring only; see routes.c, command.c and auth.c. */
#include "apiserver.h"
#include "cli.h"
#include "auth.h"
#include "command.h"
#include "routes.h"

int main(int argc, char **argv)
{
    const struct apiserver_spec spec = {
        .svc = "command-api",
        .port_var = "COMMAND_SERVICE_PORT",
        .port_default = "8080",
        .dsn_var = "COMMAND_DATABASE_URL",
        .dsn_fallback_var = "DATABASE_URL",
        .routes = command_routes,
        .nroutes = command_nroutes,
        .stmts = command_stmts,
        .nstmts = command_nstmts,
        .start = command_start,
        .release = command_release,
        .authorize = auth_authorize,
    };
    const struct cli_spec cli = {"command-api", "command-api: the write side's HTTP API (commands)", command_routes, command_nroutes};
    int rc = cli_handle(&cli, argc, argv);

    return rc >= 0 ? rc : apiserver_main(&spec);
}
