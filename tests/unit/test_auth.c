/* auth: which requests are public, the Bearer header check and the constant-time comparison. */
#include "api/command/auth.h"
#include "api/command/routes.h"

#include "unit.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

/* Whether the command API asks for the token on method + path: the request's one match (as
 * lib/http/http makes it), then auth_required. */
static bool required(const char *method, const char *path)
{
    struct route_match m;

    router_find(command_routes, command_nroutes, method, path, &m);
    return auth_required(&m);
}

START_TEST(public_requests)
{
    unit_each_request(auth_is_public, true,
                      UNIT_REQUESTS({"GET", "/health"}, {"GET", "/mood"}, {"GET", "/mood/send.js"},
                                    {"HEAD", "/mood"}, {"POST", "/api/moods"},
                                    {"POST", "/api/moods/"}));
    unit_each_request(
        auth_is_public, false,
        UNIT_REQUESTS({"POST", "/api/moods/1"}, {"POST", "/api/moodsx"}, {"PUT", "/api/moods"},
                      {"POST", "/api/orders"}, {"POST", "/api/products"}, {"PATCH", "/api/todos/1"},
                      {"DELETE", "/api/todos/1"}, {"POST", "/health"}, {"OPTIONS", "/api/orders"}));
}
END_TEST

START_TEST(required_on_routed_commands_only)
{
    unit_each_request(
        required, true,
        UNIT_REQUESTS({"POST", "/api/products"}, {"POST", "/api/orders"},
                      {"POST", "/api/orders/7/payments"}, {"POST", "/api/orders/7/ship"},
                      {"POST", "/api/orders/7/complete"}, {"POST", "/api/orders/7/cancel"},
                      {"POST", "/api/inventory"}, {"POST", "/api/todos"}, {"PATCH", "/api/todos/7"},
                      {"DELETE", "/api/todos/7/"}));
    /* public */
    unit_each_request(required, false,
                      UNIT_REQUESTS({"POST", "/api/moods"}, {"GET", "/health"}, {"GET", "/mood"}));
    /* not routed: 404 or 405, whoever asks */
    unit_each_request(required, false,
                      UNIT_REQUESTS({"POST", "/mood"}, {"DELETE", "/api/products"},
                                    {"POST", "/api/nothing"}, {"POST", "/api/orders/abc/ship"}));
}
END_TEST

/* The table says who may call each route: no read needs the token, every write but a mood and
 * the dead-letter actions does (the actions check it in their handlers). */
START_TEST(each_route_carries_its_access)
{
    for (size_t i = 0; i < command_nroutes; i++) {
        const struct route *r = &command_routes[i];
        enum route_access want = ROUTE_TOKEN;
        if (strcmp(r->method, "GET") == 0 || strcmp(r->method, "OPTIONS") == 0 ||
            strcmp(r->pattern, "/api/moods") == 0)
            want = ROUTE_PUBLIC;
        else if (strncmp(r->pattern, "/api/dead-letters/", 18) == 0)
            want = ROUTE_OWN_TOKEN;
        ck_assert_msg(r->access == want, "%s %s: access %d, want %d", r->method, r->pattern,
                      (int)r->access, (int)want);
    }
}
END_TEST

START_TEST(token_equal)
{
    ck_assert(auth_token_equal("secret", 6, "secret", 6));
    ck_assert(!auth_token_equal("secreT", 6, "secret", 6));
    ck_assert(!auth_token_equal("Secret", 6, "secret", 6));
    ck_assert(!auth_token_equal("secre", 5, "secret", 6));
    ck_assert(!auth_token_equal("secrets", 7, "secret", 6));
    ck_assert(!auth_token_equal("", 0, "secret", 6));
    ck_assert(!auth_token_equal("secret", 6, "", 0));
    ck_assert(auth_token_equal("", 0, "", 0));
    /* a prefix of the secret padded with what the comparison uses past the end */
    char pad[8] = "sec";
    pad[3] = (char)~'r';
    ck_assert(!auth_token_equal(pad, 3, "secret", 6));
    /* a NUL inside does not end the comparison */
    ck_assert(!auth_token_equal("sec\0et", 6, "secret", 6));
}
END_TEST

START_TEST(token_valid)
{
    ck_assert(auth_token_valid("dev-local-token"));
    ck_assert(auth_token_valid("a"));
    ck_assert(auth_token_valid("A+b/c=~_.-!#"));
    ck_assert(!auth_token_valid(""));
    ck_assert(!auth_token_valid("with space"));
    ck_assert(!auth_token_valid("tab\there"));
    ck_assert(!auth_token_valid("caf\xc3\xa9"));
    char long_token[1026];
    memset(long_token, 'x', 1025);
    long_token[1025] = '\0';
    ck_assert(!auth_token_valid(long_token));
    long_token[1024] = '\0';
    ck_assert(auth_token_valid(long_token));
}
END_TEST

static void refused(unsigned count, const char *header)
{
    struct api_error e;

    memset(&e, 0, sizeof e);
    ck_assert_int_eq(auth_check(count, header, "dev-local-token", &e), -1);
    ck_assert_uint_eq(api_status_http(e.kind), 401);
    ck_assert_str_eq(e.code, "unauthorized");
    /* the message never quotes what was sent */
    ck_assert_ptr_null(strstr(e.message, "dev-local"));
    if (header != NULL && strlen(header) > 7)
        ck_assert_ptr_null(strstr(e.message, header + 7));
}

START_TEST(bearer_check)
{
    struct api_error e;

    ck_assert_int_eq(auth_check(1, "Bearer dev-local-token", "dev-local-token", &e), 0);
    ck_assert_int_eq(auth_check(1, "bearer dev-local-token", "dev-local-token", &e), 0);
    ck_assert_int_eq(auth_check(1, "BEARER  dev-local-token", "dev-local-token", &e), 0);
    ck_assert_int_eq(auth_check(1, "Bearer\tdev-local-token", "dev-local-token", &e), 0);
    refused(0, NULL);
    refused(1, "Bearer dev-local-tokem");
    refused(1, "Bearer dev-local-token2");
    refused(1, "Bearer dev-local-toke");
    refused(1, "Bearer ");
    refused(1, "Bearer");
    refused(1, "Bearerdev-local-token");
    refused(1, "Basic ZGV2LWxvY2FsLXRva2Vu");
    refused(1, "dev-local-token");
    refused(1, "Bearer dev-local-token extra");
    refused(2, "Bearer dev-local-token");
}
END_TEST

START_TEST(loopback_addresses)
{
    ck_assert(auth_is_loopback("127.0.0.1"));
    ck_assert(auth_is_loopback("127.1.2.3"));
    ck_assert(auth_is_loopback("::1"));
    ck_assert(auth_is_loopback("localhost"));
    ck_assert(auth_is_loopback("LOCALHOST"));
    ck_assert(!auth_is_loopback("0.0.0.0"));
    ck_assert(!auth_is_loopback("::"));
    ck_assert(!auth_is_loopback("10.0.0.1"));
    ck_assert(!auth_is_loopback("128.0.0.1"));
    ck_assert(!auth_is_loopback("126.255.255.255"));
    ck_assert(!auth_is_loopback("::ffff:127.0.0.1"));
    ck_assert(!auth_is_loopback(""));
    ck_assert(!auth_is_loopback("localhost.example"));
}
END_TEST

START_TEST(mode_from_bind_token_and_auth)
{
    /* make up: loopback, no token -> no token needed */
    ck_assert_int_eq(auth_mode_for("127.0.0.1", "", "auto"), AUTH_LOCAL);
    ck_assert_int_eq(auth_mode_for("::1", "", "auto"), AUTH_LOCAL);
    /* a token set is always required, loopback or not */
    ck_assert_int_eq(auth_mode_for("127.0.0.1", "secret", "auto"), AUTH_TOKEN);
    ck_assert_int_eq(auth_mode_for("0.0.0.0", "secret", "auto"), AUTH_TOKEN);
    /* beyond loopback without a token: refuse to start, unless auth is explicitly off */
    ck_assert_int_eq(auth_mode_for("0.0.0.0", "", "auto"), AUTH_REFUSE);
    ck_assert_int_eq(auth_mode_for("192.168.1.5", "", "auto"), AUTH_REFUSE);
    ck_assert_int_eq(auth_mode_for("0.0.0.0", "", "off"), AUTH_OFF);
    ck_assert_int_eq(auth_mode_for("0.0.0.0", "secret", "off"), AUTH_OFF);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    unit_tcase(s, "core",
               UNIT_TESTS(public_requests, required_on_routed_commands_only,
                          each_route_carries_its_access, token_equal, token_valid, bearer_check,
                          loopback_addresses, mode_from_bind_token_and_auth));
    return unit_run(s);
}
