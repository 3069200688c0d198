/* config: environment variables parsed once at start into a caller-owned, read-only struct.
 *
 * Each service describes its variables in one table of struct config_var (name, type, default,
 * offset into its config struct, bounds). config_load() fills the struct or fails naming the
 * variable. String fields point into the environment or into the table's default literal: the
 * caller frees nothing. */
#ifndef CQ_CONFIG_H
#define CQ_CONFIG_H

#include <stddef.h>
#include <stdio.h>

enum config_type { CONFIG_STRING, CONFIG_INT };

struct config_var {
    const char *name;
    enum config_type type;
    const char *def; /* default as text; NULL means required */
    size_t offset;   /* offsetof(struct your_config, field): const char * or long */
    long min, max;   /* bounds for CONFIG_INT */
};

/* One module's table, as --help gathers them (lib/service/cli.h): each module that reads variables
 * exposes its table, so the list a binary prints is the list it reads. */
struct config_table {
    const struct config_var *vars;
    size_t n;
};
#define CONFIG_TABLE(array)                                                                        \
    {                                                                                              \
        (array), sizeof(array) / sizeof((array)[0])                                                \
    }

/* Writes one line per variable of the tables, in order, each name once (the first table that
 * names it gives the default): "  NAME=default", or "  NAME (required)" when it has none. */
void config_print_help(FILE *out, const struct config_table *tables, size_t ntables);

/* Fills cfg from the environment. Returns 0, or -1 with err naming the variable. */
__attribute__((warn_unused_result)) int config_load(void *cfg, const struct config_var *vars,
                                                    size_t n, char *err, size_t errlen);

/* Parses a whole decimal long in [min, max]. Returns 0 or -1. */
__attribute__((warn_unused_result)) int config_parse_long(const char *s, long min, long max,
                                                          long *out);

#endif
