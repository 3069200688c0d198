#include "service/cli.h"

#include "base/version.h"

#include <amqp.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <string.h>

void cli_print_version(const struct cli_spec *spec, FILE *out)
{
    int pq = PQlibVersion();

    fprintf(out, "%s %s\n", spec->name, version_string());
    fprintf(out, "libpq %d.%d\n", pq / 10000, pq % 10000);
    fprintf(out, "libmicrohttpd %s\n", MHD_get_version());
    fprintf(out, "librabbitmq %s\n", amqp_version());
    fprintf(out, "jansson %s\n", jansson_version_str());
}

static void usage(const struct cli_spec *spec, FILE *out)
{
    if (spec->usage != NULL)
        fputs(spec->usage, out);
    else
        fprintf(out, "usage: %s [--help | --version%s]\n", spec->name,
                spec->routes != NULL ? " | --routes" : "");
    fprintf(out, "%s\n", spec->summary);
}

static void help(const struct cli_spec *spec, FILE *out)
{
    usage(spec, out);
    fprintf(out, "\nEnvironment variables (NAME=default; an empty value means the default):\n");
    config_print_help(out, spec->config, spec->nconfig);
}

int cli_handle(const struct cli_spec *spec, int argc, char **argv)
{
    if (argc < 2)
        return -1;
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        cli_print_version(spec, stdout);
        return 0;
    }
    if (argc == 2 && spec->routes != NULL && strcmp(argv[1], "--routes") == 0) {
        for (size_t i = 0; i < spec->nroutes; i++)
            printf("%s %s\n", spec->routes[i].method, spec->routes[i].pattern);
        return 0;
    }
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        help(spec, stdout);
        return 0;
    }
    fprintf(stderr, "%s: unknown argument \"%s\"\n", spec->name, argv[1]);
    usage(spec, stderr);
    return 2;
}
