/* clientaddr: whose address a request counts against, behind trusted proxies or not. */
#include "http/clientaddr.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>

static const char *resolve(const char *list, const char *peer, const char *xff)
{
    static char out[64];
    struct clientaddr_trust t;
    char err[256];

    ck_assert_int_eq(clientaddr_trust_parse(&t, list, err, sizeof err), 0);
    clientaddr_resolve(&t, peer, xff, out, sizeof out);
    return out;
}

START_TEST(untrusted_peers_are_themselves)
{
    ck_assert_str_eq(resolve("", "10.0.0.5", "1.2.3.4"), "10.0.0.5");
    ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.5", "1.2.3.4"), "10.0.0.5");
}
END_TEST

START_TEST(a_trusted_proxy_names_the_client_it_appended)
{
    ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.1", "1.2.3.4"), "1.2.3.4");
    /* only the last entry, the one the proxy appended, is believed */
    ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.1", "6.6.6.6, 1.2.3.4"), "1.2.3.4");
    ck_assert_str_eq(resolve("172.16.0.0/12", "172.20.3.4", "2001:db8::1"), "2001:db8::1");
    ck_assert_str_eq(resolve("172.16.0.0/12", "172.32.0.1", "1.2.3.4"), "172.32.0.1");
    ck_assert_str_eq(resolve("::1, 127.0.0.1", "::1", " 9.9.9.9 "), "9.9.9.9");
    /* no header, or garbage in it: the proxy itself */
    ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.1", NULL), "10.0.0.1");
    ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.1", "1.2.3.4, not-an-ip"), "10.0.0.1");
    ck_assert_str_eq(resolve("10.0.0.1", "10.0.0.1", ""), "10.0.0.1");
}
END_TEST

START_TEST(bad_lists_are_refused)
{
    struct clientaddr_trust t;
    char err[256];

    ck_assert_int_eq(clientaddr_trust_parse(&t, "10.0.0.300", err, sizeof err), -1);
    ck_assert_int_eq(clientaddr_trust_parse(&t, "10.0.0.0/33", err, sizeof err), -1);
    ck_assert_int_eq(clientaddr_trust_parse(&t, "10.0.0.0/", err, sizeof err), -1);
    ck_assert_int_eq(clientaddr_trust_parse(&t, "::1/64", err, sizeof err), -1);
    ck_assert_int_eq(clientaddr_trust_parse(&t, "proxy.local", err, sizeof err), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("clientaddr");
    unit_tcase(s, "core",
               UNIT_TESTS(untrusted_peers_are_themselves,
                          a_trusted_proxy_names_the_client_it_appended, bad_lists_are_refused));
    return unit_run(s);
}
