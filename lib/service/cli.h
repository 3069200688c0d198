/* cli: the command line every binary shares. A service takes its configuration from the
 * environment only; its command line answers questions about the binary and exits:
 *   --help     usage, and every environment variable the binary reads with its default, from
 *              the config tables it loads (lib/base/config.h); tests/e2e/cli.test.mjs compares them
 *              with .env.example
 *   --version  the version (git describe at build time) and the libraries it runs with
 *   --routes   (HTTP APIs) every route it serves, "METHOD PATTERN" per line: the OpenAPI
 *              contract test (tests/e2e/contract.test.mjs) compares them with docs/openapi.yaml
 * Anything else is a usage error. */
#ifndef CQ_CLI_H
#define CQ_CLI_H

#include "base/config.h"
#include "http/router.h"

#include <stddef.h>
#include <stdio.h>

struct cli_spec {
    const char *name;           /* the binary, e.g. "command-api" */
    const char *summary;        /* one line: what it is */
    const struct route *routes; /* NULL for services without HTTP routes */
    size_t nroutes;
    const struct config_table *config; /* every table the binary loads */
    size_t nconfig;
    const char *usage; /* NULL: "NAME [--help | --version | --routes]"; else the usage lines */
};

/* Writes the --version text to out. */
void cli_print_version(const struct cli_spec *spec, FILE *out);

/* Handles argv. Returns -1 when there are no arguments (run the service), else the exit status
 * after answering (0) or after a usage error on stderr (2). */
int cli_handle(const struct cli_spec *spec, int argc, char **argv);

#endif
