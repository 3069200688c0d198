/* command-api: the write side's HTTP API. Wiring only; see routes.c, command.c, service.c and
 * auth.c. */
#include "auth.h"
#include "deadletters.h"
#include "routes.h"
#include "service.h"

#include "domain/domain.h"
#include "service/apiserver.h"

int main(int argc, char **argv)
{
    static const struct config_table *const config[] = {
        &command_config_table, &domain_idempotency_table, &dl_config_table, &domain_names_table};
    const struct apiserver_spec spec = {
        .svc = "command-api",
        .port_var = "COMMAND_SERVICE_PORT",
        .port_default = "8080",
        .threads_var = "COMMAND_HTTP_THREADS",
        .threads_default = "32",
        .dsn_var = "COMMAND_DATABASE_URL",
        .dsn_fallback_var = "DATABASE_URL",
        .routes = command_routes,
        .nroutes = command_nroutes,
        .stmts = command_stmts,
        .nstmts = command_nstmts,
        .start = command_start,
        .release = command_release,
        .authorize = auth_authorize,
        .summary = "command-api: the write side's HTTP API (commands)",
        .config = config,
        .nconfig = sizeof config / sizeof config[0],
    };

    return apiserver_main(&spec, argc, argv);
}
