/* router: pattern matching, id capture, the one match of a request (its entry, index and
 * captures), 404 vs 405. */
#include "http/router.h"

#include "unit.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int hit_a(void *ctx, const struct http_request *req, const struct route_match *m,
                 struct http_response *resp, struct api_error *err)
{
    (void)req;
    (void)resp;
    (void)err;
    *(long long *)ctx = m->nids > 0 ? m->ids[0] : -1;
    return 0;
}

static const struct route routes[] = {
    {"GET", "/api/orders/{id}", hit_a, ROUTE_PUBLIC, NULL},
    {"POST", "/api/orders", hit_a, ROUTE_TOKEN, NULL},
};

static int dispatch(const char *method, const char *path, long long *got, struct api_error *err)
{
    struct http_request req = {.method = method, .path = path};
    struct http_response resp;
    memset(&resp, 0, sizeof resp);
    return router_dispatch(routes, 2, got, &req, &resp, err);
}

START_TEST(matches_literal_and_ids)
{
    struct route_match m;
    ck_assert(router_match("/api/orders/{id}", "/api/orders/42", &m));
    ck_assert_int_eq(m.nids, 1);
    ck_assert_int_eq(m.ids[0], 42);
    ck_assert(router_match("/api/orders/{id}/ship", "/api/orders/7/ship", &m));
    ck_assert_int_eq(m.ids[0], 7);
    ck_assert(router_match("/health", "/health/", &m));
}
END_TEST

START_TEST(rejects_bad_ids)
{
    struct route_match m;
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/abc", &m));
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/0", &m));
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/-1", &m));
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/012", &m));
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/1234567890123456789", &m));
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/", &m));
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/1/x", &m));
    ck_assert(!router_match("/api/orders", "/api/ordersx", &m));
}
END_TEST

START_TEST(dispatch_404_405)
{
    struct api_error err;
    long long got = 0;
    ck_assert_int_eq(dispatch("GET", "/api/orders/9", &got, &err), 0);
    ck_assert_int_eq(got, 9);
    ck_assert_int_eq(dispatch("DELETE", "/api/orders/9", &got, &err), -1);
    ck_assert_int_eq(api_status_http(err.kind), 405);
    ck_assert_int_eq(dispatch("GET", "/nope", &got, &err), -1);
    ck_assert_int_eq(api_status_http(err.kind), 404);
    ck_assert_str_eq(err.code, "not_found");
}
END_TEST

START_TEST(matches_a_named_token_segment)
{
    struct route_match m;
    char long_key[ROUTER_MAX_KEY + 2];

    ck_assert(router_match("/api/dead-letters/{eventId}/requeue",
                           "/api/dead-letters/6f1c2d3e-0000-4000-8000-000000000001/requeue", &m));
    ck_assert_str_eq(m.key, "6f1c2d3e-0000-4000-8000-000000000001");
    ck_assert_int_eq(m.nids, 0);
    ck_assert(router_match("/api/dead-letters/{eventId}/drop",
                           "/api/dead-letters/poison_1.a~b:c/drop", &m));
    ck_assert_str_eq(m.key, "poison_1.a~b:c");
    /* empty, unsafe characters, too long, or another suffix: no match */
    ck_assert(!router_match("/api/dead-letters/{eventId}/drop", "/api/dead-letters//drop", &m));
    ck_assert(
        !router_match("/api/dead-letters/{eventId}/drop", "/api/dead-letters/a%20b/drop", &m));
    ck_assert(!router_match("/api/dead-letters/{eventId}/drop", "/api/dead-letters/a/requeue", &m));
    memset(long_key, 'a', sizeof long_key - 1);
    long_key[sizeof long_key - 1] = '\0';
    char path[300];
    snprintf(path, sizeof path, "/api/dead-letters/%s/drop", long_key);
    ck_assert(!router_match("/api/dead-letters/{eventId}/drop", path, &m));
    /* {id} keeps matching numbers only */
    ck_assert(!router_match("/api/orders/{id}", "/api/orders/abc", &m));
    ck_assert(router_match("/api/orders/{id}", "/api/orders/7", &m));
    ck_assert_str_eq(m.key, "");
}
END_TEST

/* Several entries, as the APIs have them: one pattern with two methods, an id pattern before a
 * literal one of another method, and a duplicate. */
static const struct route table[] = {
    {"GET", "/api/todos/{id}", hit_a, ROUTE_PUBLIC, NULL},
    {"PATCH", "/api/todos/{id}", hit_a, ROUTE_TOKEN, "patch"},
    {"POST", "/api/orders/{id}/ship", hit_a, ROUTE_TOKEN, NULL},
    {"PATCH", "/api/todos/{id}", hit_a, ROUTE_PUBLIC, "duplicate"},
};

START_TEST(find_names_the_entry_its_index_and_its_captures)
{
    struct route_match m;

    router_find(table, 4, "PATCH", "/api/todos/77/", &m);
    ck_assert_ptr_eq(m.route, &table[1]); /* the first entry that serves it */
    ck_assert_uint_eq(m.index, 1);
    ck_assert_str_eq(m.route->arg, "patch");
    ck_assert(m.path_known);
    ck_assert_int_eq(m.nids, 1);
    ck_assert_int_eq(m.ids[0], 77);
    router_find(table, 4, "POST", "/api/orders/5/ship", &m);
    ck_assert_ptr_eq(m.route, &table[2]);
    ck_assert_uint_eq(m.index, 2);
    ck_assert_int_eq(m.ids[0], 5);
}
END_TEST

START_TEST(find_tells_405_from_404)
{
    struct route_match m;

    router_find(table, 4, "DELETE", "/api/todos/3", &m);
    ck_assert_ptr_null(m.route);
    ck_assert(m.path_known);
    ck_assert_int_eq(m.nids, 0);
    router_find(table, 4, "GET", "/api/todos/x", &m);
    ck_assert_ptr_null(m.route);
    ck_assert(!m.path_known);
    router_find(table, 0, "GET", "/", &m);
    ck_assert_ptr_null(m.route);
    ck_assert(!m.path_known);
}
END_TEST

START_TEST(call_runs_the_matched_entry_or_answers_404_405)
{
    struct http_request req = {.method = "PATCH", .path = "/api/todos/8"};
    struct http_response resp;
    struct api_error err;
    struct route_match m;
    long long got = 0;

    memset(&resp, 0, sizeof resp);
    router_find(table, 4, req.method, req.path, &m);
    ck_assert_int_eq(router_call(&m, &got, &req, &resp, &err), 0);
    ck_assert_int_eq(got, 8);
    req.method = "PUT";
    router_find(table, 4, req.method, req.path, &m);
    ck_assert_int_eq(router_call(&m, &got, &req, &resp, &err), -1);
    ck_assert_int_eq(api_status_http(err.kind), 405);
    ck_assert_str_eq(err.code, "method_not_allowed");
    req.path = "/nope";
    router_find(table, 4, req.method, req.path, &m);
    ck_assert_int_eq(router_call(&m, &got, &req, &resp, &err), -1);
    ck_assert_int_eq(api_status_http(err.kind), 404);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    unit_tcase(s, "core",
               UNIT_TESTS(matches_literal_and_ids, rejects_bad_ids, dispatch_404_405,
                          matches_a_named_token_segment,
                          find_names_the_entry_its_index_and_its_captures, find_tells_405_from_404,
                          call_runs_the_matched_entry_or_answers_404_405));
    return unit_run(s);
}
