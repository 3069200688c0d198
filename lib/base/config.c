#include "base/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether a table before (t, i) already names vars[i]. */
static int config_seen(const struct config_table *tables, size_t t, size_t i)
{
    const char *name = tables[t].vars[i].name;

    for (size_t u = 0; u <= t; u++)
        for (size_t j = 0; j < (u == t ? i : tables[u].n); j++)
            if (strcmp(tables[u].vars[j].name, name) == 0)
                return 1;
    return 0;
}

void config_print_help(FILE *out, const struct config_table *tables, size_t ntables)
{
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < tables[t].n; i++) {
            const struct config_var *v = &tables[t].vars[i];

            if (config_seen(tables, t, i))
                continue;
            if (v->def == NULL)
                fprintf(out, "  %s (required)\n", v->name);
            else
                fprintf(out, "  %s=%s\n", v->name, v->def);
        }
}

int config_parse_long(const char *s, long min, long max, long *out)
{
    char *end = NULL;
    long v;

    if (s == NULL || *s == '\0')
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

int config_load(void *cfg, const struct config_var *vars, size_t n, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        const struct config_var *v = &vars[i];
        const char *val = getenv(v->name);
        char *field = (char *)cfg + v->offset;

        if (val == NULL || *val == '\0')
            val = v->def;
        if (val == NULL) {
            snprintf(err, errlen, "missing required environment variable %s", v->name);
            return -1;
        }
        if (v->type == CONFIG_STRING) {
            *(const char **)(void *)field = val;
            continue;
        }
        if (config_parse_long(val, v->min, v->max, (long *)(void *)field) != 0) {
            snprintf(err, errlen, "invalid value for %s: expected an integer in [%ld, %ld]",
                     v->name, v->min, v->max);
            return -1;
        }
    }
    return 0;
}
