/* config: defaults, overrides, bounds and required variables. */
#include "base/config.h"

#include "unit.h"

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct cfg {
    const char *url;
    long port;
};

static const struct config_var vars[] = {
    {"TEST_CFG_URL", CONFIG_STRING, NULL, offsetof(struct cfg, url), 0, 0},
    {"TEST_CFG_PORT", CONFIG_INT, "8080", offsetof(struct cfg, port), 1, 65535},
};

START_TEST(defaults_and_overrides)
{
    struct cfg c;
    char err[256];
    setenv("TEST_CFG_URL", "postgresql://x", 1);
    unsetenv("TEST_CFG_PORT");
    ck_assert_int_eq(config_load(&c, vars, 2, err, sizeof err), 0);
    ck_assert_str_eq(c.url, "postgresql://x");
    ck_assert_int_eq(c.port, 8080);
    setenv("TEST_CFG_PORT", "9000", 1);
    ck_assert_int_eq(config_load(&c, vars, 2, err, sizeof err), 0);
    ck_assert_int_eq(c.port, 9000);
}
END_TEST

START_TEST(bad_values_name_the_variable)
{
    struct cfg c;
    char err[256];
    setenv("TEST_CFG_URL", "x", 1);
    setenv("TEST_CFG_PORT", "70000", 1);
    ck_assert_int_eq(config_load(&c, vars, 2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TEST_CFG_PORT"));
    setenv("TEST_CFG_PORT", "12ab", 1);
    ck_assert_int_eq(config_load(&c, vars, 2, err, sizeof err), -1);
    unsetenv("TEST_CFG_URL");
    setenv("TEST_CFG_PORT", "1", 1);
    ck_assert_int_eq(config_load(&c, vars, 2, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "TEST_CFG_URL"));
}
END_TEST

START_TEST(help_lists_each_variable_once_with_its_default)
{
    static const struct config_var more[] = {
        {"TEST_CFG_PORT", CONFIG_INT, "1", offsetof(struct cfg, port), 1, 65535},
        {"TEST_CFG_MODE", CONFIG_STRING, "7 days", offsetof(struct cfg, url), 0, 0},
    };
    const struct config_table tables[] = {CONFIG_TABLE(vars), CONFIG_TABLE(more)};
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);

    ck_assert_ptr_nonnull(out);
    config_print_help(out, tables, 2);
    ck_assert_int_eq(fclose(out), 0);
    /* the first table's default wins; a required variable says so */
    ck_assert_str_eq(buf, "  TEST_CFG_URL (required)\n"
                          "  TEST_CFG_PORT=8080\n"
                          "  TEST_CFG_MODE=7 days\n");
    free(buf);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    unit_tcase(s, "core",
               UNIT_TESTS(defaults_and_overrides, bad_values_name_the_variable,
                          help_lists_each_variable_once_with_its_default));
    return unit_run(s);
}
