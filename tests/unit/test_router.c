/* router: pattern matching, id capture, 404 vs 405. */
#include "router.h"

#include <check.h>
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
    {"GET", "/api/orders/{id}", hit_a},
    {"POST", "/api/orders", hit_a},
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

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, matches_literal_and_ids);
    tcase_add_test(tc, rejects_bad_ids);
    tcase_add_test(tc, dispatch_404_405);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
